/** Builds posture answers for the tests: rows, then the glossary, then the paging warning. */

export interface Row {
  id?: string;
  hostId?: string;
  controlId?: string;
  techId?: string;
  instance?: string;
  status?: string;
  policyId?: string;
  modified?: string;
  evaluated?: string;
  previous?: string;
  firstFail?: string;
  lastFail?: string;
  firstPass?: string;
  lastPass?: string;
  remediation?: string;
  cause?: string;
  expr?: string;
  /** [label, values...] */
  dpvs?: string[][];
}

export interface Answer {
  /** flat INFO_LIST, or grouped POLICY_LIST/POLICY (rows grouped by their policyId) */
  shape?: 'flat' | 'grouped';
  rows: Row[];
  hosts?: Array<{ id: string; ip?: string; dns?: string; netbios?: string; os?: string; tracking?: string }>;
  controls?: Array<{ id: string; statement?: string; label?: string; value?: string; reference?: string; rationales?: Array<[string, string]>; rationale?: string; remediation?: string }>;
  techs?: Array<[string, string]>;
  tps?: Array<[string, ...string[]]>;
  fvs?: Array<[string, ...string[]]>;
  dpds?: Array<[string, string]>;
  tms?: Array<{ label?: string; pairs: Array<[string, string]> }>;
  warning?: { code: string; text: string; url: string };
}

const cd = (s: string): string => `<![CDATA[${s}]]>`;
const el = (name: string, v: string | undefined): string => (v === undefined ? '' : `<${name}>${cd(v)}</${name}>`);

export function row(r: Row, withPolicy: boolean): string {
  let s = '<INFO>\n';
  s += el('ID', r.id) + el('HOST_ID', r.hostId) + el('CONTROL_ID', r.controlId) + el('TECHNOLOGY_ID', r.techId) + el('INSTANCE', r.instance);
  s += el('STATUS', r.status) + (withPolicy ? el('POLICY_ID', r.policyId) : '');
  s += el('POSTURE_MODIFIED_DATE', r.modified) + el('EVALUATION_DATE', r.evaluated) + el('PREVIOUS_STATUS', r.previous);
  s += el('FIRST_FAIL_DATE', r.firstFail) + el('LAST_FAIL_DATE', r.lastFail) + el('FIRST_PASS_DATE', r.firstPass) + el('LAST_PASS_DATE', r.lastPass);
  s += el('REMEDIATION', r.remediation) + el('CAUSE_OF_FAILURE', r.cause);
  if (r.expr !== undefined || r.dpvs) {
    s += `<EVIDENCE>${el('BOOLEAN_EXPR', r.expr)}`;
    if (r.dpvs) s += `<DPV_LIST>${r.dpvs.map(([label, ...vs]) => `<DPV>${el('LABEL', label)}${vs.map((v) => el('V', v)).join('')}</DPV>`).join('')}</DPV_LIST>`;
    s += '</EVIDENCE>';
  }
  return s + '\n</INFO>\n';
}

export function glossary(a: Omit<Answer, 'rows'>): string {
  let s = '<GLOSSARY>\n';
  if (a.hosts) s += `<HOST_LIST>${a.hosts.map((h) => `<HOST>${el('ID', h.id)}${el('IP', h.ip)}${el('DNS', h.dns)}${el('NETBIOS', h.netbios)}${el('OS', h.os)}${el('TRACKING_METHOD', h.tracking)}</HOST>\n`).join('')}</HOST_LIST>\n`;
  if (a.controls) {
    s += '<CONTROL_LIST>';
    for (const c of a.controls) {
      s += `<CONTROL>${el('ID', c.id)}${el('STATEMENT', c.statement)}`;
      if (c.label !== undefined || c.value !== undefined) s += `<CRITICALITY>${el('LABEL', c.label)}${el('VALUE', c.value)}</CRITICALITY>`;
      s += el('REFERENCE', c.reference) + el('RATIONALE', c.rationale) + el('REMEDIATION', c.remediation);
      if (c.rationales) s += `<RATIONALE_LIST>${c.rationales.map(([t, x]) => `<RATIONALE>${el('TECHNOLOGY_ID', t)}${el('TEXT', x)}</RATIONALE>`).join('')}</RATIONALE_LIST>`;
      s += '</CONTROL>\n';
    }
    s += '</CONTROL_LIST>\n';
  }
  if (a.techs) s += `<TECHNOLOGY_LIST>${a.techs.map(([id, name]) => `<TECHNOLOGY>${el('ID', id)}${el('NAME', name)}</TECHNOLOGY>`).join('')}</TECHNOLOGY_LIST>\n`;
  const tokens = (list: string, item: string, xs: Array<[string, ...string[]]> | undefined): string =>
    xs ? `<${list}>${xs.map(([label, ...vs]) => `<${item}>${el('LABEL', label)}${vs.map((v) => el('V', v)).join('')}</${item}>`).join('')}</${list}>\n` : '';
  s += tokens('TP_LIST', 'TP', a.tps) + tokens('FV_LIST', 'FV', a.fvs);
  if (a.dpds) s += `<DPD_LIST>${a.dpds.map(([label, tm]) => `<DPD>${el('LABEL', label)}<ID>7</ID>${el('NAME', 'a data point')}${el('TM', tm)}</DPD>`).join('')}</DPD_LIST>\n`;
  if (a.tms) s += `<TM_LIST>${a.tms.map((tm) => `<TM>${el('LABEL', tm.label)}${tm.pairs.map(([k, v]) => `<PAIR>${el('K', k)}${el('V', v)}</PAIR>`).join('')}</TM>`).join('')}</TM_LIST>\n`;
  return s + '</GLOSSARY>\n';
}

export function answer(a: Answer): string {
  let s = '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE POSTURE_INFO_LIST_OUTPUT SYSTEM "https://qualysapi.qualys.com/api/2.0/fo/compliance/posture/info/posture_info_list_output.dtd">\n';
  s += '<POSTURE_INFO_LIST_OUTPUT>\n<RESPONSE>\n<DATETIME>2026-11-20T10:00:00Z</DATETIME>\n';
  if (a.shape === 'grouped') {
    const byPolicy = new Map<string, Row[]>();
    for (const r of a.rows) {
      const k = r.policyId ?? '';
      byPolicy.set(k, [...(byPolicy.get(k) ?? []), r]);
    }
    s += '<POLICY_LIST>\n';
    for (const [pid, rows] of byPolicy) s += `<POLICY>${pid ? `<ID>${pid}</ID>` : ''}\n<INFO_LIST>\n${rows.map((r) => row(r, false)).join('')}</INFO_LIST>\n</POLICY>\n`;
    s += '</POLICY_LIST>\n';
  } else {
    s += `<INFO_LIST>\n${a.rows.map((r) => row(r, true)).join('')}</INFO_LIST>\n`;
  }
  s += glossary(a);
  if (a.warning) s += `<WARNING>${el('CODE', a.warning.code)}${el('TEXT', a.warning.text)}${el('URL', a.warning.url)}</WARNING>\n`;
  return s + '</RESPONSE>\n</POSTURE_INFO_LIST_OUTPUT>\n';
}

/** the input as an async iterable of chunks of `size` bytes */
export async function* chunks(input: string | Buffer, size = 64 * 1024): AsyncGenerator<Buffer> {
  const b = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}
