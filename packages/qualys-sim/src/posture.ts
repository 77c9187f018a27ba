/**
 * `/api/{2.0,3.0}/fo/compliance/posture/info/?action=list`: the posture of the scenario's policies
 * (posture-estate.ts), rows then GLOSSARY, paged by `truncation_limit` / `id_min` with a WARNING 1980,
 * filtered by `status_changes_since`. API 2.0 answers a flat INFO_LIST (POLICY_ID in each row), 3.0
 * groups rows as POLICY_LIST/POLICY. Each control's expected value is an FV token of the glossary and
 * its actual value a data point code that the control's TM translates, so a parser must resolve both.
 */
import { ByteWriter, CHUNK_BYTES } from './byte-writer.ts';
import { takeBodyPlan } from './control.ts';
import { simpleReturn } from './envelopes.ts';
import { Fragments } from './fragments.ts';
import { FAILED, PASSED, R_PREV, STATUS_TITLE, type ControlDef } from './model.ts';
import { MAX_ORDINAL, postureRows, postureSources, type PostureRow, type PostureSource } from './posture-estate.ts';
import { streamBody, type ReportService } from './reports.ts';
import type { Scenario } from './scenario.ts';
import type { Call } from './server.ts';
import { cdata } from './xml-text.ts';

const XML = 'text/xml; charset=UTF-8';
const DEFAULT_TRUNCATION = 1000;
const MAX_POLICIES = 10;

export interface PostureQuery {
  version: '2.0' | '3.0';
  sources: PostureSource[];
  /** 0: no limit */
  limit: number;
  idMin: number;
  since: number | null;
  remediation: boolean;
  causeOfFailure: boolean;
  /** the request URL without id_min, for the next page's URL */
  nextUrl: (idMin: number) => string;
}

export class PostureService {
  constructor(
    private readonly reports: ReportService,
    private readonly scenario: Scenario,
  ) {}

  async list(call: Call, version: '2.0' | '3.0'): Promise<void> {
    const bad = (code: number, text: string): void => call.send(400, XML, simpleReturn(code, text));
    const p = call.params;
    if ((p.get('action') ?? '') !== 'list') return bad(1903, 'Missing or unsupported parameter action (only list)');
    if (!this.scenario.pcModule) return call.send(403, XML, simpleReturn(2003, 'Policy Compliance is not enabled for this subscription'));
    const ids = (p.get('policy_ids') ?? p.get('policy_id') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (ids.length === 0) return bad(1903, 'Missing required parameter(s): policy_id or policy_ids');
    if (ids.length > MAX_POLICIES) return bad(1905, `parameter policy_ids has ${ids.length} ids; at most ${MAX_POLICIES} are allowed`);
    if (ids.some((id) => !/^\d+$/.test(id))) return bad(1905, 'Invalid value for parameter policy_ids');
    const format = (p.get('output_format') ?? 'xml').toLowerCase();
    if (format !== 'xml') return bad(1905, `Invalid value for parameter output_format: ${format} (the simulator answers xml)`);
    const int = (name: string, dflt: number): number | null => {
      const v = p.get(name);
      if (v === null || v === '') return dflt;
      return /^\d+$/.test(v) ? Number(v) : null;
    };
    const limit = int('truncation_limit', DEFAULT_TRUNCATION);
    if (limit === null) return bad(1905, 'Invalid value for parameter truncation_limit');
    const idMin = int('id_min', 0);
    if (idMin === null) return bad(1905, 'Invalid value for parameter id_min');
    const sinceText = p.get('status_changes_since');
    const since = sinceText ? Date.parse(sinceText) : null;
    if (since !== null && Number.isNaN(since)) return bad(1905, 'Invalid value for parameter status_changes_since (a UTC date-time)');
    this.reports.refreshAll();
    const all = postureSources(this.scenario);
    const missing = ids.filter((id) => !all.has(id));
    if (missing.length) return bad(1905, `Policy id(s) not found: ${missing.join(', ')}`);
    const sources = [...new Set(ids)].map((id) => all.get(id) as PostureSource).sort((a, b) => Number(a.policyId) - Number(b.policyId));
    const huge = sources.find((s) => s.model.spec.size.hosts * s.model.controls.length * s.model.maxInst > MAX_ORDINAL);
    if (huge) return bad(1905, `the simulator numbers at most 2^32 rows per policy; policy ${huge.policyId} has more`);
    const host = call.req.headers.host ?? '127.0.0.1';
    const nextUrl = (next: number): string => {
      const q = new URLSearchParams(p);
      q.set('id_min', String(next));
      return `http://${host}${call.path}?${q.toString()}`;
    };
    const query: PostureQuery = { version, sources, limit, idMin, since, remediation: p.get('show_remediation_info') === '1', causeOfFailure: p.get('cause_of_failure') === '1', nextUrl };
    const plan = takeBodyPlan(call.faults);
    call.limitHeaders();
    call.res.statusCode = 200;
    call.res.setHeader('Content-Type', XML);
    if (plan.cut?.mode === 'truncate') call.res.setHeader('Connection', 'close');
    await streamBody(call.res, postureChunks(query), 0, plan, () => this.reports.closing);
  }
}

interface Glossary {
  hosts: Map<string, { s: PostureSource; h: number; f: Fragments }>;
  controls: Map<string, { s: PostureSource; c: ControlDef; f: Fragments }>;
  techs: Map<string, string>;
}

/** The answer as Buffers of about CHUNK_BYTES: rows, then the glossary of what they name, then the warning. */
export function* postureChunks(q: PostureQuery): Generator<Buffer> {
  const w = new ByteWriter();
  const g: Glossary = { hosts: new Map(), controls: new Map(), techs: new Map() };
  const grouped = q.version === '3.0';
  w.str(`<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE POSTURE_INFO_LIST_OUTPUT SYSTEM "https://qualysapi.qualys.com/api/${q.version}/fo/compliance/posture/info/posture_info_list_output.dtd">\n`);
  w.str(`<POSTURE_INFO_LIST_OUTPUT>\n  <RESPONSE>\n    <DATETIME>${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}</DATETIME>\n`);
  w.str(grouped ? '    <POLICY_LIST>\n' : '    <INFO_LIST>\n');
  let n = 0;
  let next: number | null = null;
  for (const s of q.sources) {
    const f = new Fragments(s.model);
    let opened = false;
    for (const row of postureRows(s, q.idMin, q.since)) {
      if (q.limit > 0 && n === q.limit) {
        next = row.id;
        break;
      }
      if (grouped && !opened) {
        opened = true;
        w.str(`<POLICY>\n<ID>${s.policyId}</ID>\n<INFO_LIST>\n`);
      }
      writeRow(w, q, s, f, row, g, grouped);
      n++;
      if (w.pos >= CHUNK_BYTES) w.cut();
      while (w.ready.length) yield w.ready.shift() as Buffer;
    }
    if (opened) w.str('</INFO_LIST>\n</POLICY>\n');
    if (next !== null) break;
  }
  w.str(grouped ? '    </POLICY_LIST>\n' : '    </INFO_LIST>\n');
  writeGlossary(w, g);
  if (next !== null) {
    w.str(`    <WARNING>\n      <CODE>1980</CODE>\n      <TEXT>${q.limit} record limit exceeded. Use URL to get next batch of results.</TEXT>\n`);
    w.str(`      <URL>${cdata(q.nextUrl(next))}</URL>\n    </WARNING>\n`);
  }
  w.str('  </RESPONSE>\n</POSTURE_INFO_LIST_OUTPUT>\n');
  w.cut();
  while (w.ready.length) yield w.ready.shift() as Buffer;
}

function writeRow(w: ByteWriter, q: PostureQuery, s: PostureSource, f: Fragments, row: PostureRow, g: Glossary, grouped: boolean): void {
  const m = s.model;
  const c = m.controls[row.j]!;
  const inst = c.insts[row.k]!;
  const host = m.host(row.h);
  const st = row.r & 3;
  const opt = m.spec.variants.optionalFields;
  if (!g.hosts.has(host.qualysHostId)) g.hosts.set(host.qualysHostId, { s, h: row.h, f });
  if (!g.controls.has(c.cid)) g.controls.set(c.cid, { s, c, f });
  g.techs.set(inst.techId, inst.techName);
  let x = `<INFO>\n<ID>${row.id}</ID><HOST_ID>${host.qualysHostId}</HOST_ID><CONTROL_ID>${c.cid}</CONTROL_ID><TECHNOLOGY_ID>${inst.techId}</TECHNOLOGY_ID>`;
  x += `${f.el('INSTANCE', inst.instance)}<STATUS>${STATUS_TITLE[st]}</STATUS>${grouped ? '' : `<POLICY_ID>${s.policyId}</POLICY_ID>`}`;
  x += `<POSTURE_MODIFIED_DATE>${row.modified}</POSTURE_MODIFIED_DATE><EVALUATION_DATE>${host.evaluationDate}</EVALUATION_DATE>`;
  if (opt) {
    if (row.r & R_PREV) x += `<PREVIOUS_STATUS>${st === PASSED ? 'Failed' : 'Passed'}</PREVIOUS_STATUS>`;
    if (st === FAILED) x += `<FIRST_FAIL_DATE>${host.firstFailDate}</FIRST_FAIL_DATE><LAST_FAIL_DATE>${host.lastFailDate}</LAST_FAIL_DATE>`;
    if (st === PASSED) x += `<FIRST_PASS_DATE>${host.firstPassDate}</FIRST_PASS_DATE><LAST_PASS_DATE>${host.lastPassDate}</LAST_PASS_DATE>`;
  }
  if (q.remediation) x += f.el('REMEDIATION', c.remediation);
  if (q.causeOfFailure && opt && st === FAILED) x += f.el('CAUSE_OF_FAILURE', c.causeOfFailure);
  x += `<EVIDENCE><BOOLEAN_EXPR>#fv_${c.cid}</BOOLEAN_EXPR><DPV_LIST><DPV><LABEL>:dp_${c.cid}</LABEL><V>${c.cid}.${st}</V></DPV></DPV_LIST></EVIDENCE>\n</INFO>\n`;
  w.str(x);
}

function writeGlossary(w: ByteWriter, g: Glossary): void {
  w.str('    <GLOSSARY>\n      <HOST_LIST>\n');
  for (const [id, { s, h, f }] of g.hosts) {
    const host = s.model.host(h);
    let x = `<HOST><ID>${id}</ID><IP>${host.ip}</IP>`;
    if (host.dns !== null) x += f.el('DNS', host.dns);
    if (host.netbios !== null) x += f.el('NETBIOS', host.netbios);
    x += `${f.el('OS', host.os)}<TRACKING_METHOD>${host.trackingMethod}</TRACKING_METHOD></HOST>\n`;
    w.str(x);
  }
  w.str('      </HOST_LIST>\n      <CONTROL_LIST>\n');
  for (const { s, c, f } of g.controls.values()) {
    let x = `<CONTROL><ID>${c.cid}</ID>${f.el('STATEMENT', c.statement)}`;
    if (c.criticalityValue !== null) x += `<CRITICALITY>${c.criticalityLabel === null ? '' : f.el('LABEL', c.criticalityLabel)}<VALUE>${c.criticalityValue}</VALUE></CRITICALITY>`;
    if (s.model.spec.variants.optionalFields) x += f.el('REFERENCE', c.references);
    const techIds = [...new Set(c.insts.map((i) => i.techId))];
    x += `<RATIONALE_LIST>${techIds.map((t) => `<RATIONALE><TECHNOLOGY_ID>${t}</TECHNOLOGY_ID>${f.el('TEXT', c.rationale)}</RATIONALE>`).join('')}</RATIONALE_LIST></CONTROL>\n`;
    w.str(x);
  }
  w.str('      </CONTROL_LIST>\n      <TECHNOLOGY_LIST>\n');
  for (const [id, name] of g.techs) w.str(`<TECHNOLOGY><ID>${id}</ID><NAME>${cdata(name)}</NAME></TECHNOLOGY>\n`);
  w.str('      </TECHNOLOGY_LIST>\n      <FV_LIST>\n');
  for (const { c, f } of g.controls.values()) w.str(`<FV><LABEL>#fv_${c.cid}</LABEL>${f.el('V', c.expected)}</FV>\n`);
  w.str('      </FV_LIST>\n      <DPD_LIST>\n');
  for (const { c } of g.controls.values()) w.str(`<DPD><LABEL>:dp_${c.cid}</LABEL><ID>${c.cid}</ID><NAME>setting of control ${c.cid}</NAME><TM>tm_${c.cid}</TM></DPD>\n`);
  w.str('      </DPD_LIST>\n      <TM_LIST>\n');
  for (const { c, f } of g.controls.values()) {
    const pairs = c.actual.map((a, st) => `<PAIR><K>${c.cid}.${st}</K>${f.el('V', a)}</PAIR>`).join('');
    w.str(`<TM><LABEL>tm_${c.cid}</LABEL>${pairs}</TM>\n`);
  }
  w.str('      </TM_LIST>\n    </GLOSSARY>\n');
}
