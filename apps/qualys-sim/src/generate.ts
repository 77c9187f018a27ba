/**
 * The streaming Policy Report writer. Content comes from ReportModel; this file only decides the form.
 * Speed: every fragment that repeats (a control's head, its evidence per status, a host's dates) is
 * encoded once as a Buffer; a result is a handful of memcpy into a ~128 KiB chunk buffer (building
 * strings and encoding them per chunk was 3x slower: rope flattening and two-byte strings).
 * Memory: constant. Nothing is kept per host or per result (the by-control layout rebuilds a host's
 * identity from its index and takes its dates from one of 48 cached scan-time slots).
 */
import { Readable } from 'node:stream';
import { ERROR, FAILED, PASSED, R_EXC, R_PREV, ReportModel, STATUS_TITLE, type ControlDef, type HostDef, type TechInstance } from './model.ts';
import { hostKey } from '@qpc/domain';
import type { ReportSpec, Variants } from './spec.ts';
import { escapeXml, textFn, type TextFn } from './xml-text.ts';

export const CHUNK_BYTES = 128 * 1024;
const DTD = 'https://qualysguard.qg2.apps.qualys.com/compliance_policy_report.dtd';
const TRAILER = '<!-- CONFIDENTIAL AND PROPRIETARY INFORMATION. Qualys provides the QualysGuard Service "As Is," without any warranty of any kind. (simulated report) -->\n';

export interface Counts {
  hosts: number;
  controls: number;
  results: number;
  passed: number;
  failed: number;
  error: number;
}

/** One pass over the results without writing: the SUMMARY section precedes the body. */
export function countResults(model: ReportModel): Counts {
  const { size } = model.spec;
  const c: Counts = { hosts: 0, controls: model.controls.length, results: 0, passed: 0, failed: 0, error: 0 };
  const tally = [0, 0, 0];
  for (let h = 0; h < size.hosts; h++) {
    if (model.hostDropped(h)) continue;
    c.hosts++;
    for (let p = 0; p < model.policies.length; p++)
      for (const ctl of model.controls)
        for (let k = 0; k < ctl.insts.length; k++) {
          const r = model.result(p, h, ctl.index, k);
          if (r >= 0) tally[r & 3]!++;
        }
  }
  c.passed = tally[PASSED]!;
  c.failed = tally[FAILED]!;
  c.error = tally[ERROR]!;
  c.results = c.passed + c.failed + c.error;
  return c;
}

function statusWord(v: Variants['statusCase'], s: number, caseBits: number): string {
  const t = STATUS_TITLE[s] as string;
  const mode = v === 'mixed' ? (['title', 'upper', 'lower', 'title'] as const)[caseBits] : v;
  return mode === 'upper' ? t.toUpperCase() : mode === 'lower' ? t.toLowerCase() : t;
}

const EVIDENCE_FIELD_NAMES: Array<[string, string]> = [
  ['EXPECTED_VALUE', 'ACTUAL_VALUE'],
  ['EXPECTED_RESULT', 'ACTUAL_RESULT'],
  ['EXPECTED_VALUE', 'CURRENT_VALUE'],
];
const EVIDENCE_MARKERS: Array<[string, string]> = [
  ['Expected Value(s) - ', ' | Current Value(s) - '],
  ['Expected Values(s) - ', ' | Current Values(s) - '],
  ['EXPECTED VALUE(S) - ', ' | CURRENT VALUE(S) - '],
];

/** what the free-text evidence of a result says (also used by expectedRecords) */
export function evidenceText(c: ControlDef, s: number): string {
  if (s === ERROR) return c.actual[ERROR];
  const [a, b] = EVIDENCE_MARKERS[c.index % EVIDENCE_MARKERS.length]!;
  return `${a}${c.expected}${b}${c.actual[s]}`;
}

class Fragments {
  readonly v: Variants;
  readonly t: TextFn;
  readonly hostIdTag: string | null;
  constructor(readonly model: ReportModel) {
    this.v = model.spec.variants;
    this.t = textFn(this.v.text);
    this.hostIdTag = this.v.hostIdElement === 'none' ? null : this.v.hostIdElement;
  }
  el(name: string, s: string): string {
    return `<${name}>${this.t(s)}</${name}>`;
  }
  criticality(c: ControlDef): string {
    const v = c.criticalityValue;
    if (v === null) return '';
    const l = c.criticalityLabel;
    switch (this.v.criticality) {
      case 'element':
        return `<CRITICALITY>${l === null ? '' : `<LABEL>${escapeXml(l)}</LABEL>`}<VALUE>${v}</VALUE></CRITICALITY>`;
      case 'attributes':
        return `<CRITICALITY${l === null ? '' : ` label="${escapeXml(l)}"`} value="${v}"/>`;
      case 'fields':
        return `${l === null ? '' : `<CRITICALITY_LABEL>${escapeXml(l)}</CRITICALITY_LABEL>`}<CRITICALITY_VALUE>${v}</CRITICALITY_VALUE>`;
    }
  }
  technology(i: TechInstance): string {
    switch (this.v.technology) {
      case 'element':
        return `<TECHNOLOGY><ID>${i.techId}</ID><NAME>${this.t(i.techName)}</NAME></TECHNOLOGY>`;
      case 'text':
        return this.el('TECHNOLOGY', i.techName);
      case 'fields':
        return `${this.el('TECHNOLOGY_NAME', i.techName)}<TECHNOLOGY_ID>${i.techId}</TECHNOLOGY_ID>`;
    }
  }
  evidence(c: ControlDef, s: number): string {
    switch (this.v.evidence) {
      case 'element':
        return `<EVIDENCE>${this.el('EXPECTED', c.expected)}${this.el('ACTUAL', c.actual[s] as string)}</EVIDENCE>`;
      case 'fields': {
        const [e, a] = EVIDENCE_FIELD_NAMES[c.index % EVIDENCE_FIELD_NAMES.length]!;
        return `${this.el(e, c.expected)}${this.el(a, c.actual[s] as string)}`;
      }
      case 'text':
        return this.el('EVIDENCE', evidenceText(c, s));
    }
  }
  exception(c: ControlDef): string {
    const e = c.exception;
    return `<EXCEPTION><STATUS>${e.status}</STATUS>${this.el('ASSIGNEE', e.assignee)}<END_DATE>${e.endDate}</END_DATE>${this.el('CREATED_BY', e.createdBy)}<CREATED_DATE>${e.createdDate}</CREATED_DATE>${this.el('MODIFIED_BY', e.modifiedBy)}<MODIFIED_DATE>${e.modifiedDate}</MODIFIED_DATE></EXCEPTION>`;
  }
  hostIdent(h: HostDef): string {
    return `<IP network_id="0">${h.ip}</IP>${this.hostIdTag ? `<${this.hostIdTag}>${h.qualysHostId}</${this.hostIdTag}>` : ''}`;
  }
  hostDetails(h: HostDef): string {
    let s = `${this.hostIdent(h)}\n<TRACKING_METHOD>${h.trackingMethod}</TRACKING_METHOD>`;
    if (h.dns !== null) s += this.el('DNS', h.dns);
    if (h.netbios !== null) s += this.el('NETBIOS', h.netbios);
    s += `${this.el('OPERATING_SYSTEM', h.os)}<LAST_SCAN_DATE>${h.lastScanDate}</LAST_SCAN_DATE>`;
    if (this.v.unknownElements) s += `<CUSTOM_ATTRIBUTES><ATTRIBUTE><KEY>Owner</KEY><DATA>${this.t('ops & infra')}</DATA></ATTRIBUTE></CUSTOM_ATTRIBUTES>`;
    if (h.tags.length) s += `\n<ASSET_TAGS>${h.tags.map((tag) => this.el('ASSET_TAG', tag)).join('')}</ASSET_TAGS>`;
    return s + '\n';
  }
  /** per host: the dated optional fields by status */
  hostDates(h: HostDef): [string, string, string] {
    if (!this.v.optionalFields) return ['', '', ''];
    return [
      `<FIRST_PASS_DATE>${h.firstPassDate}</FIRST_PASS_DATE><LAST_PASS_DATE>${h.lastPassDate}</LAST_PASS_DATE>`,
      `<FIRST_FAIL_DATE>${h.firstFailDate}</FIRST_FAIL_DATE><LAST_FAIL_DATE>${h.lastFailDate}</LAST_FAIL_DATE>`,
      '',
    ];
  }
}

interface ControlFrags {
  /** by-host: from <CONTROL> to the opening <STATUS>, per instance; by-control: the CONTROL head per group */
  heads: Buffer[];
  instance: Buffer[];
  evidence: [Buffer, Buffer, Buffer];
  /** by-host: rationale, remediation, references */
  tail: Buffer;
  cause: Buffer;
  exception: Buffer;
}

const B = (s: string): Buffer => Buffer.from(s, 'utf8');

function controlFrags(f: Fragments, c: ControlDef, byHost: boolean): ControlFrags {
  const v = f.v;
  const refs = v.optionalFields ? f.el('CONTROL_REFERENCES', c.references) : '';
  const texts = `${f.el('RATIONALE', c.rationale)}${f.el('REMEDIATION', c.remediation)}${refs}`;
  const base = `<CID>${c.cid}</CID>${f.el('STATEMENT', c.statement)}${f.criticality(c)}`;
  const heads = byHost
    ? c.insts.map((i) => `<CONTROL>\n${base}${f.technology(i)}${f.el('INSTANCE', i.instance)}<STATUS>`)
    : c.groups.map((g) => `<CONTROL>\n${base}${f.technology(c.insts[g[0] ?? 0] as TechInstance)}${texts}\n<HOST_LIST>\n`);
  return {
    heads: heads.map(B),
    instance: c.insts.map((i) => B(`${f.el('INSTANCE', i.instance)}<STATUS>`)),
    evidence: [B(f.evidence(c, PASSED)), B(f.evidence(c, FAILED)), B(f.evidence(c, ERROR))],
    tail: B(byHost ? texts : ''),
    cause: B(v.optionalFields ? f.el('CAUSE_OF_FAILURE', c.causeOfFailure) : ''),
    exception: B(v.optionalFields ? f.exception(c) : ''),
  };
}

/**
 * Copies pre-encoded fragments into chunk buffers. A full chunk goes to `ready` and a fresh buffer
 * is taken (a consumer may still hold the previous one, e.g. a socket write in flight).
 */
class ByteWriter {
  buf: Buffer;
  pos = 0;
  /** bytes already cut (count-only mode: the running total) */
  total = 0;
  readonly ready: Buffer[] = [];
  /** newlines in the chunks already cut (kept only when lines are asked for) */
  private lines = 0;
  trackLines = false;
  /** countOnly: measure without copying (the byte length of a report for Content-Length) */
  constructor(readonly countOnly = false) {
    this.buf = Buffer.allocUnsafe(countOnly ? 0 : CHUNK_BYTES + SLACK);
  }
  put(b: Buffer): void {
    if (this.countOnly) {
      this.pos += b.length;
      return;
    }
    if (this.pos + b.length > this.buf.length) this.cut(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** an ASCII string written straight into the chunk (no Buffer of its own) */
  ascii(s: string): void {
    if (!this.countOnly) {
      if (this.pos + s.length > this.buf.length) this.cut(s.length);
      this.buf.write(s, this.pos, 'latin1');
    }
    this.pos += s.length;
  }
  linesCut(): number {
    return this.lines;
  }
  str(s: string): void {
    if (this.countOnly) this.pos += Buffer.byteLength(s, 'utf8');
    else this.put(B(s));
  }
  cut(need = 0): void {
    this.total += this.pos;
    if (this.countOnly) {
      this.pos = 0;
      this.ready.push(EMPTY); // a turn for the caller (reportByteLengthAsync yields there)
      return;
    }
    if (this.pos > 0) {
      const chunk = this.buf.subarray(0, this.pos);
      if (this.trackLines) this.lines += countNewlines(chunk, chunk.length);
      this.ready.push(chunk);
    }
    this.buf = Buffer.allocUnsafe(Math.max(CHUNK_BYTES + SLACK, need));
    this.pos = 0;
  }
}

/** the 1-based line the next byte will be on (needs trackLines) */
function lineAt(w: ByteWriter): number {
  return w.linesCut() + countNewlines(w.buf, w.pos) + 1;
}

function countNewlines(b: Buffer, end: number): number {
  let n = 0;
  for (let i = b.indexOf(10); i !== -1 && i < end; i = b.indexOf(10, i + 1)) n++;
  return n;
}

const SLACK = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/** The report as Buffers of about CHUNK_BYTES (UTF-8), generated lazily. */
export function reportChunks(spec: ReportSpec): Generator<Buffer> {
  return writeReport(spec, new ByteWriter());
}

/** The byte length of a report without producing it (about 3x faster than generating). */
export function reportByteLength(spec: ReportSpec): number {
  const w = new ByteWriter(true);
  for (const _ of writeReport(spec, w));
  return w.total;
}

/** The same, yielding to the event loop now and then (for the server). */
export async function reportByteLengthAsync(spec: ReportSpec): Promise<number> {
  const w = new ByteWriter(true);
  let n = 0;
  for (const _ of writeReport(spec, w)) if (++n % 64 === 0) await new Promise<void>((r) => setImmediate(r));
  return w.total;
}

/** A rejected element written on purpose (variants.rejectSamples), as the parser must report it. */
export interface RejectSample {
  reason: 'missing-control-id' | 'missing-host-identity' | 'unknown-test-status';
  line: number;
  policyId: string;
  hostKey: string | null;
  ip: string | null;
  controlId: string | null;
}

/** Writes a report with rejectSamples and returns what the parser must reject (small reports only). */
export function rejectSamples(spec: ReportSpec): RejectSample[] {
  const out: RejectSample[] = [];
  if (!spec.variants.rejectSamples) return out;
  const w = new ByteWriter();
  w.trackLines = true;
  for (const _ of writeReport(spec, w, out));
  return out;
}

function* writeReport(spec: ReportSpec, w: ByteWriter, rejects: RejectSample[] | null = null): Generator<Buffer> {
  const model = new ReportModel(spec);
  const f = new Fragments(model);
  const v = f.v;
  const byHost = spec.layout === 'by-host';
  const counts = countResults(model);
  const root = v.root;
  let out = v.bom ? '\uFEFF' : '';
  out += '<?xml version="1.0" encoding="UTF-8" ?>\n';
  if (v.comments) out += '<!-- generated by the qpc Qualys simulator -->\n<?qpc-sim generator="1"?>\n';
  out += `\n<!DOCTYPE ${root} SYSTEM "${DTD}">\n<${root}>\n<HEADER>\n`;
  out += `${f.el('NAME', spec.title)}\n<GENERATION_DATETIME>${spec.generatedAt}</GENERATION_DATETIME>\n`;
  out += `<COMPANY_INFO>${f.el('NAME', spec.company)}</COMPANY_INFO>\n`;
  out += `<USER_INFO>${f.el('NAME', spec.userName)}<USERNAME>${escapeXml(spec.userLogin)}</USERNAME></USER_INFO>\n</HEADER>\n`;
  out += `<SUMMARY>\n<TOTAL_HOSTS>${counts.hosts}</TOTAL_HOSTS>\n<TOTAL_CONTROLS>${counts.controls}</TOTAL_CONTROLS>\n`;
  out += `<TOTAL_CONTROL_INSTANCES>${counts.results}</TOTAL_CONTROL_INSTANCES>\n`;
  out += `<PASSED>${counts.passed}</PASSED><FAILED>${counts.failed}</FAILED><ERROR>${counts.error}</ERROR>\n</SUMMARY>\n<RESULTS>\n`;
  w.str(out);

  const cf = model.controls.map((c) => controlFrags(f, c, byHost));
  const nHosts = spec.size.hosts;
  const opt = v.optionalFields;
  const endResult = B(`${v.unknownElements ? '<QPC_EXTRA><NOTE>ignored</NOTE></QPC_EXTRA>' : ''}${byHost ? '</CONTROL>' : '</HOST>'}\n`);
  const words: Buffer[] = [];
  for (let s = 0; s < 3; s++) for (let cb = 0; cb < 4; cb++) words.push(B(statusWord(v.statusCase, s, cb)));
  const prev = [B('<PREVIOUS_STATUS>Failed</PREVIOUS_STATUS>'), B('<PREVIOUS_STATUS>Passed</PREVIOUS_STATUS>'), B('<PREVIOUS_STATUS>Passed</PREVIOUS_STATUS>')];
  const hostBufs = (host: HostDef): { evalTag: Buffer; dates: Buffer[] } => ({
    evalTag: B(`</STATUS><EVALUATION_DATE>${host.evaluationDate}</EVALUATION_DATE>`),
    dates: f.hostDates(host).map(B),
  });
  // by-control visits every host once per control: its per-host fragments come from one of the 48
  // scan-time slots and from the index, so memory does not grow with the number of hosts
  const slots: Array<ReturnType<typeof hostBufs>> = [];
  const slotBufs = (h: number): ReturnType<typeof hostBufs> => {
    const k = model.hostSlot(h);
    return (slots[k] ??= hostBufs(model.host(h)));
  };
  const idTag = f.hostIdTag;
  const identStart = '<HOST><IP network_id="0">';
  const identOf = (h: number): string =>
    idTag ? `${identStart}${model.hostIp(h)}</IP><${idTag}>${spec.firstHostId + h}</${idTag}>` : `${identStart}${model.hostIp(h)}</IP>`;

  const result = (fr: ControlFrags, r: number, evalTag: Buffer, dates: Buffer[]): void => {
    const s = r & 3;
    w.put(words[(s << 2) | ((r >>> 2) & 3)]!);
    w.put(evalTag);
    w.put(fr.evidence[s as 0 | 1 | 2]);
    if (byHost) w.put(fr.tail);
    if (opt) {
      if (r & R_PREV) w.put(prev[s]!);
      w.put(dates[s]!);
      if (s === FAILED) {
        w.put(fr.cause);
        if (r & R_EXC) w.put(fr.exception);
      }
    }
    w.put(endResult);
  };

  let sampled = false;
  const reject = (reason: RejectSample['reason'], policyId: string, host: HostDef | null, controlId: string | null, hostKey: string | null): void => {
    if (!rejects) return;
    rejects.push({ reason, line: lineAt(w), policyId, hostKey, ip: host ? host.ip : null, controlId });
  };
  const keyOf = (host: HostDef): string => hostKey({ qualysHostId: f.hostIdTag ? host.qualysHostId : null, ip: host.ip }) as string;
  /** by host: a result without CID and one with an unknown status, inside a good host */
  const samplesInHost = (policyId: string, host: HostDef): void => {
    const c = model.controls[0];
    reject('missing-control-id', policyId, host, null, keyOf(host));
    w.str(`<CONTROL>\n${f.el('STATEMENT', 'A result without control id')}<STATUS>Failed</STATUS></CONTROL>\n`);
    if (!c) return;
    reject('unknown-test-status', policyId, host, c.cid, keyOf(host));
    w.str(`<CONTROL>\n<CID>${c.cid}</CID>${f.el('STATEMENT', c.statement)}${f.technology({ techId: '1', techName: 'Sample Technology', instance: 'sample' })}${f.el('INSTANCE', 'sample')}<STATUS>Not Applicable</STATUS></CONTROL>\n`);
  };

  for (const pol of model.policies) {
    const p = pol.index;
    sampled = false;
    w.str(`<POLICY>\n<ID>${pol.id}</ID>\n${f.el('TITLE', pol.title)}\n`);
    if (byHost) {
      w.str('<HOST_LIST>\n');
      for (let h = 0; h < nHosts; h++) {
        if (model.hostDropped(h)) continue;
        const host = model.host(h);
        w.str(`<HOST>\n${f.hostDetails(host)}<CONTROL_LIST>\n`);
        const hb = hostBufs(host);
        for (const ctl of model.controls) {
          const fr = cf[ctl.index]!;
          for (let k = 0; k < ctl.insts.length; k++) {
            const r = model.result(p, h, ctl.index, k);
            if (r < 0) continue;
            w.put(fr.heads[k]!);
            result(fr, r, hb.evalTag, hb.dates);
          }
          if (w.pos >= CHUNK_BYTES) w.cut();
          while (w.ready.length) yield w.ready.shift() as Buffer;
        }
        const sample = v.rejectSamples && !sampled;
        if (sample) samplesInHost(pol.id, host);
        w.str('</CONTROL_LIST>\n</HOST>\n');
        if (sample) {
          sampled = true;
          reject('missing-host-identity', pol.id, null, null, null);
          w.str(`<HOST>\n${f.el('DNS', 'ghost.example.com')}${f.el('NETBIOS', 'GHOST')}\n<CONTROL_LIST>\n`);
          w.put(cf[0]?.heads[0] ?? B('<CONTROL>\n<CID>1</CID><STATUS>'));
          w.str(`Passed</STATUS></CONTROL>\n</CONTROL_LIST>\n</HOST>\n`);
        }
      }
      w.str('</HOST_LIST>\n');
    } else {
      w.str('<HOST_STATISTICS>\n');
      let firstHost = -1;
      for (let h = 0; h < nHosts; h++) {
        if (model.hostDropped(h)) continue;
        if (firstHost < 0) firstHost = h;
        w.str(`<HOST>\n${f.hostDetails(model.host(h))}</HOST>\n`);
        if (w.pos >= CHUNK_BYTES) w.cut();
        while (w.ready.length) yield w.ready.shift() as Buffer;
      }
      if (v.rejectSamples) {
        reject('missing-host-identity', pol.id, null, null, null);
        w.str(`<HOST>\n${f.el('DNS', 'ghost.example.com')}${f.el('NETBIOS', 'GHOST')}</HOST>\n`);
      }
      w.str('</HOST_STATISTICS>\n<CONTROL_LIST>\n');
      for (const ctl of model.controls) {
        const fr = cf[ctl.index]!;
        for (let gi = 0; gi < ctl.groups.length; gi++) {
          w.put(fr.heads[gi]!);
          const group = ctl.groups[gi]!;
          for (let h = 0; h < nHosts; h++) {
            if (model.hostDropped(h)) continue;
            let ident: string | null = null;
            for (const k of group) {
              const r = model.result(p, h, ctl.index, k);
              if (r < 0) continue;
              ident ??= identOf(h);
              w.ascii(ident);
              w.put(fr.instance[k]!);
              const sb = slotBufs(h);
              result(fr, r, sb.evalTag, sb.dates);
            }
            if (w.pos >= CHUNK_BYTES) w.cut();
            while (w.ready.length) yield w.ready.shift() as Buffer;
          }
          if (v.rejectSamples && ctl.index === 0 && gi === 0) {
            reject('missing-host-identity', pol.id, null, ctl.cid, null);
            w.str(`<HOST>${f.el('INSTANCE', 'ghost')}<STATUS>Passed</STATUS></HOST>\n`);
            if (firstHost >= 0) {
              const host = model.host(firstHost);
              reject('unknown-test-status', pol.id, host, ctl.cid, keyOf(host));
              w.ascii(identOf(firstHost));
              w.str(`${f.el('INSTANCE', 'sample')}<STATUS>Not Applicable</STATUS></HOST>\n`);
            }
          }
          w.str('</HOST_LIST>\n</CONTROL>\n');
        }
      }
      if (v.rejectSamples && firstHost >= 0) {
        reject('missing-control-id', pol.id, null, null, null);
        w.str(`<CONTROL>\n${f.el('STATEMENT', 'A control without control id')}\n<HOST_LIST>\n`);
        w.ascii(identOf(firstHost));
        w.str(`${f.el('INSTANCE', 'os')}<STATUS>Failed</STATUS></HOST>\n</HOST_LIST>\n</CONTROL>\n`);
      }
      w.str('</CONTROL_LIST>\n');
    }
    w.str('</POLICY>\n');
  }
  out = `</RESULTS>\n${f.el('APPENDIX', 'Report generated by the qpc Qualys simulator.\nNot real data.')}\n</${root}>\n${TRAILER}`;
  if (v.comments) out += '<?qpc-sim end="1"?>\n<!-- end of report -->\n';
  w.str(out);
  w.cut();
  while (w.ready.length) yield w.ready.shift() as Buffer;
}

/** The report as a Node Readable stream of Buffers, generated lazily with backpressure. */
export function generateReport(spec: ReportSpec): Readable {
  return Readable.from(reportChunks(spec), { objectMode: false, highWaterMark: 256 * 1024 });
}
