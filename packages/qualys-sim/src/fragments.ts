/** XML fragments of one report form (the variants), built once per report and reused per result. */
import { ERROR, FAILED, PASSED, STATUS_TITLE, type ControlDef, type HostDef, type ReportModel, type TechInstance } from './model.ts';
import type { Variants } from './spec.ts';
import { escapeXml, textFn, type TextFn } from './xml-text.ts';

export function statusWord(v: Variants['statusCase'], s: number, caseBits: number): string {
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

export class Fragments {
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

export interface ControlFrags {
  /** by-host: from <CONTROL> to the opening <STATUS>, per instance; by-control: the CONTROL head per group */
  heads: Buffer[];
  instance: Buffer[];
  evidence: [Buffer, Buffer, Buffer];
  /** by-host: rationale, remediation, references */
  tail: Buffer;
  cause: Buffer;
  exception: Buffer;
}

export const B = (s: string): Buffer => Buffer.from(s, 'utf8');

export function controlFrags(f: Fragments, c: ControlDef, byHost: boolean): ControlFrags {
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

