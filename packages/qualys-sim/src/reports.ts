/** The report and policy endpoints: list, fetch (streamed, Range, body faults), launch; policy list. */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Malformer, takeBodyPlan, type BodyPlan } from './control.ts';
import { humanSize, placeholderReport, policyList, reportList, scanReportXml, simpleReturn } from './envelopes.ts';
import { reportByteLengthAsync, reportChunks } from './generate.ts';
import { ReportModel } from './model.ts';
import { postureSources } from './posture-estate.ts';
import type { OutputFormat, Scenario, ScenarioReport } from './scenario.ts';
import type { ReportSpec } from './spec.ts';
import type { Call } from './server.ts';

const XML = 'text/xml; charset=UTF-8';

/** the generation inputs of a report: what its bytes depend on */
export function generationKey(r: ReportSpec): string {
  const { id, title, seed, layout, variants, size, ratios, mutations, generatedAt, company, userName, userLogin, firstPolicyId, firstControlId, firstHostId } = r;
  return JSON.stringify({ v: 1, id, title, seed, layout, variants, size, ratios, mutations, generatedAt, company, userName, userLogin, firstPolicyId, firstControlId, firstHostId });
}

/** strong ETag derived from the spec and seed (not from the bytes: no pass needed) */
export function reportEtag(r: ReportSpec): string {
  return `"${createHash('sha256').update(generationKey(r)).digest('hex').slice(0, 32)}"`;
}

interface Body {
  contentType: string;
  /** small bodies are strings; policy reports stream from the generator */
  text: string | null;
  spec: ScenarioReport | null;
}

export class ReportService {
  closing = false;
  private readonly lengths = new Map<string, Promise<number>>();
  private readonly finishAt = new Map<string, number>();
  /** answers given under the changingEtag fault: each gets an ETag of its own */
  private etagVersions = 0;

  constructor(private readonly scenario: Scenario) {}

  /** launched reports whose time has come are Finished (the posture reads the scenario too) */
  refreshAll(): void {
    for (const r of this.scenario.reports) this.refresh(r);
  }

  private refresh(r: ScenarioReport): void {
    const at = this.finishAt.get(r.id);
    if (at !== undefined && Date.now() >= at) {
      r.state = 'Finished';
      this.finishAt.delete(r.id);
    }
  }

  private body(r: ScenarioReport): Body {
    if (r.type === 'Scan') return { contentType: XML, text: scanReportXml(r), spec: null };
    if (r.type !== 'Policy' || r.outputFormat !== 'XML') {
      const p = placeholderReport(r);
      return { contentType: p.contentType, text: p.body, spec: null };
    }
    return { contentType: XML, text: null, spec: r };
  }

  /** byte length, computed once per report by a count-only generation pass */
  private length(r: ScenarioReport): Promise<number> {
    const b = this.body(r);
    if (b.text !== null) return Promise.resolve(Buffer.byteLength(b.text));
    let n = this.lengths.get(r.id);
    if (!n) {
      n = reportByteLengthAsync(r);
      this.lengths.set(r.id, n);
    }
    return n;
  }

  async reportAction(call: Call, action: string): Promise<void> {
    switch (action) {
      case 'list':
        return this.list(call);
      case 'fetch':
        return this.fetch(call);
      case 'launch':
        return this.launch(call);
      default:
        return call.send(400, XML, simpleReturn(1903, action ? `Unrecognized value for parameter action: ${action}` : 'Missing required parameter(s): action'));
    }
  }

  private async list(call: Call): Promise<void> {
    const p = call.params;
    const ids = p.get('id')?.split(',').map((s) => s.trim());
    const state = p.get('state');
    const login = p.get('user_login');
    const before = p.get('expires_before_datetime');
    const beforeMs = before ? Date.parse(before) : null;
    if (beforeMs !== null && Number.isNaN(beforeMs)) return call.send(400, XML, simpleReturn(1905, 'Invalid value for parameter expires_before_datetime'));
    const rows: Array<{ r: ScenarioReport; size: string }> = [];
    for (const r of this.scenario.reports) {
      this.refresh(r);
      if (ids && !ids.includes(r.id)) continue;
      if (state && r.state.toLowerCase() !== state.toLowerCase()) continue;
      if (login && login !== this.scenario.user.login) continue;
      if (beforeMs !== null && Date.parse(r.expiresAt) >= beforeMs) continue;
      const size = r.state === 'Finished' ? humanSize(await this.length(r)) : '-';
      rows.push({ r, size });
    }
    call.send(200, XML, reportList(rows, this.scenario.user.login));
  }

  private async fetch(call: Call): Promise<void> {
    const id = call.params.get('id');
    if (!id) return call.send(400, XML, simpleReturn(1903, 'Missing required parameter(s): id'));
    const r = this.scenario.reports.find((x) => x.id === id);
    if (!r) return call.send(400, XML, simpleReturn(1904, `Report ${id} does not exist`));
    this.refresh(r);
    if (Date.parse(r.expiresAt) <= Date.now()) return call.send(400, XML, simpleReturn(1906, `Report ${id} has expired and is no longer available`));
    if (r.state !== 'Finished') return call.send(400, XML, simpleReturn(1905, `Report ${id} is not finished (state: ${r.state})`));
    const plan = takeBodyPlan(call.faults);
    const body = this.body(r);
    const etag = plan.changingEtag ? `${reportEtag(r).slice(0, -1)}-v${++this.etagVersions}"` : reportEtag(r);
    const rangeHeader = call.req.headers.range;
    const ifRange = call.req.headers['if-range'];
    let start = 0;
    let wantRange = plan.range && typeof rangeHeader === 'string' && (ifRange === undefined || ifRange === etag);
    const needTotal = plan.contentLength || wantRange;
    const total = needTotal ? await this.length(r) : -1;
    if (wantRange) {
      const m = /^bytes=(\d+)-$/.exec((rangeHeader as string).trim());
      if (!m) wantRange = false;
      else {
        start = Number(m[1]);
        if (start >= total) {
          call.limitHeaders();
          call.res.statusCode = 416;
          call.res.setHeader('Content-Range', `bytes */${total}`);
          call.res.end();
          return;
        }
      }
    }
    const res = call.res;
    call.limitHeaders();
    res.statusCode = wantRange ? 206 : 200;
    res.setHeader('Content-Type', body.contentType);
    res.setHeader('Content-Disposition', `attachment; filename="report_${r.id}.${r.outputFormat.toLowerCase()}"`);
    if (plan.range) {
      res.setHeader('Accept-Ranges', 'bytes');
      res.setHeader('ETag', etag);
    }
    if (wantRange) res.setHeader('Content-Range', `bytes ${start}-${total - 1}/${total}`);
    if (plan.contentLength) res.setHeader('Content-Length', String(total - start));
    // a truncated answer that declared its length closes the connection, so the client sees it short
    if (plan.cut && plan.cut.mode === 'truncate' && plan.contentLength) res.setHeader('Connection', 'close');
    const chunks = body.text !== null ? [Buffer.from(body.text)] : reportChunks(body.spec as ReportSpec);
    await streamBody(res, chunks, start, plan, () => this.closing);
  }

  private launch(call: Call): void {
    const p = call.params;
    const type = p.get('report_type');
    const missing = ['report_type', 'template_id'].filter((k) => !p.get(k));
    if (missing.length) return call.send(400, XML, simpleReturn(1903, `Missing required parameter(s): ${missing.join(', ')}`));
    if (type !== 'Policy') return call.send(400, XML, simpleReturn(1905, `The simulator launches only Policy reports, not ${type ?? ''}`));
    const format = (p.get('output_format') ?? 'xml').toUpperCase();
    if (!['XML', 'CSV', 'PDF', 'HTML', 'MHT'].includes(format)) return call.send(400, XML, simpleReturn(1905, `Invalid value for parameter output_format: ${format}`));
    const template = this.scenario.reports.find((r) => r.type === 'Policy' && r.derivedFrom === null);
    const nextId = String(Math.max(1000, ...this.scenario.reports.map((r) => Number(r.id) || 0)) + 1);
    const now = Date.now();
    const iso = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    const policyId = Number(p.get('policy_id'));
    const base = template ?? this.scenario.reports[0];
    if (!base) return call.send(400, XML, simpleReturn(1905, 'The scenario has no report to use as a template'));
    const r: ScenarioReport = {
      ...base,
      id: nextId,
      title: p.get('report_title') ?? 'Policy Report',
      type: 'Policy',
      state: 'Running',
      outputFormat: format as OutputFormat,
      seed: Number(nextId),
      mutations: [],
      launchedAt: iso(now),
      expiresAt: iso(now + 7 * 864e5),
      derivedFrom: null,
      firstPolicyId: Number.isInteger(policyId) && policyId > 0 ? policyId : base.firstPolicyId,
    };
    this.scenario.reports.push(r);
    this.finishAt.set(r.id, now + this.scenario.launchFinishAfterMs);
    call.send(200, XML, simpleReturn(null, 'New report launched', [['ID', r.id]]));
  }

  policyList(call: Call, action: string): void {
    if (action !== 'list') return call.send(400, XML, simpleReturn(1903, 'Missing or unsupported parameter action (only list)'));
    if (!this.scenario.pcModule)
      return call.send(403, XML, simpleReturn(2003, 'Policy Compliance is not enabled for this subscription'));
    const seen = new Map<string, { id: string; title: string; created: string }>();
    for (const r of this.scenario.reports) {
      if (r.type !== 'Policy') continue;
      const m = new ReportModel({ ...r, size: { ...r.size, hosts: 0, controls: 0 } });
      for (const pol of m.policies) if (!seen.has(pol.id)) seen.set(pol.id, { id: pol.id, title: pol.title, created: r.generatedAt });
    }
    // LAST_EVALUATED: when the report the posture of the policy comes from was generated
    this.refreshAll();
    const posture = postureSources(this.scenario);
    call.send(200, XML, policyList([...seen.values()].map((pol) => ({ ...pol, lastEvaluated: posture.get(pol.id)?.evaluatedAt ?? null }))));
  }
}

/** Streams generated chunks from byte `start` with the plan's body faults (cut, malformed tag). */
export async function streamBody(res: ServerResponse, chunks: Iterable<Buffer>, start: number, plan: BodyPlan, closing: () => boolean): Promise<void> {
  let pos = 0;
  let sent = 0;
  const cut = plan.cut;
  // the malformer reads every byte from 0 (a Range answer included), so the broken byte is the same in every answer
  const malformer = plan.malformAt !== null ? new Malformer(plan.malformAt) : null;
  for (const whole of chunks) {
    if (res.destroyed || closing()) return;
    const b = malformer ? malformer.apply(whole) : whole;
    const bStart = pos;
    pos += b.length;
    if (pos <= start) continue;
    let piece = bStart < start ? b.subarray(start - bStart) : b;
    if (cut && sent + piece.length >= cut.at) {
      piece = piece.subarray(0, Math.max(0, cut.at - sent));
      if (cut.mode === 'reset') {
        res.write(piece, () => res.destroy());
        if (piece.length === 0) res.destroy();
      } else {
        // write first: end(data) on an unsent response would add a Content-Length of its own
        res.write(piece);
        res.end();
      }
      return;
    }
    if (plan.bytesPerSecond) {
      // a slow link: the piece in slices of ~100 ms each
      const slice = Math.max(1, Math.floor(plan.bytesPerSecond / 10));
      for (let i = 0; i < piece.length; i += slice) {
        if (res.destroyed || closing()) return;
        if (!res.write(piece.subarray(i, i + slice))) await drainOrClose(res);
        await new Promise((r) => setTimeout(r, 100));
      }
      sent += piece.length;
      continue;
    }
    sent += piece.length;
    if (!res.write(piece)) await drainOrClose(res);
  }
  if (cut?.mode === 'reset') {
    res.destroy();
    return;
  }
  res.end();
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
