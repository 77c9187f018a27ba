/**
 * THE element table of a posture answer: which element, inside which context, opens which context or
 * fills which field. Elements not listed in their context are ignored with everything inside them.
 */

/** contexts (element scopes); IGNORE and FIELD are the two kinds of leaves */
export const IGNORE = -1;
export const FIELD = -2;
export const C = {
  ROOT: 0,
  RESPONSE: 1,
  INFO_LIST: 2,
  POLICY_LIST: 3,
  POLICY: 4,
  INFO: 5,
  EVIDENCE: 6,
  DPV_LIST: 7,
  DPV: 8,
  GLOSSARY: 9,
  HOSTS: 10,
  HOST: 11,
  CONTROLS: 12,
  CONTROL: 13,
  CRITICALITY: 14,
  RATIONALES: 15,
  RATIONALE: 16,
  TECHS: 17,
  TECH: 18,
  TOKENS: 19,
  TOKEN: 20,
  DPDS: 21,
  DPD: 22,
  TMS: 23,
  TM: 24,
  PAIR: 25,
  WARNING: 26,
  SIMPLE: 27,
  SIMPLE_RESPONSE: 28,
  GENERIC: 29,
} as const;

/** The fields of an INFO row, in staging order (index = field number). */
export const ROW_FIELDS = [
  'ID',
  'HOST_ID',
  'CONTROL_ID',
  'TECHNOLOGY_ID',
  'INSTANCE',
  'STATUS',
  'POSTURE_MODIFIED_DATE',
  'EVALUATION_DATE',
  'PREVIOUS_STATUS',
  'FIRST_FAIL_DATE',
  'LAST_FAIL_DATE',
  'FIRST_PASS_DATE',
  'LAST_PASS_DATE',
  'REMEDIATION',
  'CAUSE_OF_FAILURE',
  'POLICY_ID',
  'BOOLEAN_EXPR',
] as const;
export const R = Object.fromEntries(ROW_FIELDS.map((f, i) => [f, i])) as Record<(typeof ROW_FIELDS)[number], number>;

/** Other fields (numbers above the row fields). */
export const F = {
  POLICY_ID: 100,
  DPV_LABEL: 101,
  DPV_V: 102,
  HOST_ID: 110,
  HOST_IP: 111,
  HOST_DNS: 112,
  HOST_NETBIOS: 113,
  HOST_OS: 114,
  HOST_TRACKING: 115,
  CONTROL_ID: 120,
  CONTROL_STATEMENT: 121,
  CRIT_LABEL: 122,
  CRIT_VALUE: 123,
  CONTROL_REFERENCE: 124,
  CONTROL_RATIONALE: 125,
  CONTROL_REMEDIATION: 126,
  RATIONALE_TECH: 127,
  RATIONALE_TEXT: 128,
  TECH_ID: 130,
  TECH_NAME: 131,
  TOKEN_LABEL: 140,
  TOKEN_V: 141,
  DPD_LABEL: 150,
  DPD_TM: 151,
  TM_LABEL: 160,
  PAIR_K: 161,
  PAIR_V: 162,
  WARNING_CODE: 170,
  WARNING_TEXT: 171,
  WARNING_URL: 172,
  ERROR_CODE: 180,
  ERROR_TEXT: 181,
} as const;

export interface Entry {
  /** the context the element opens, or FIELD */
  ctx: number;
  /** the field a FIELD element fills (or a container's own text: GENERIC_RETURN's RETURN) */
  field: number;
  /** attribute name (lower case) -> field */
  attrs?: Record<string, number>;
}

const ctx = (c: number): Entry => ({ ctx: c, field: -1 });
const fld = (f: number): Entry => ({ ctx: FIELD, field: f });

export const POSTURE_ROOT = 'POSTURE_INFO_LIST_OUTPUT';
export const ROOTS: Record<string, number> = {
  [POSTURE_ROOT]: C.ROOT,
  SIMPLE_RETURN: C.SIMPLE,
  GENERIC_RETURN: C.GENERIC,
};

/** roots we recognise as something else, to say what the answer is */
export const FOREIGN_ROOTS: Record<string, string> = {
  COMPLIANCE_POLICY_REPORT: 'a policy report, not a compliance posture list',
  POLICY_REPORT: 'a policy report, not a compliance posture list',
  POLICY_LIST_OUTPUT: 'a Qualys policy list, not a compliance posture list',
  REPORT_LIST_OUTPUT: 'a Qualys report list, not a compliance posture list',
  ASSET_DATA_REPORT: 'a vulnerability scan report, not a compliance posture list',
  html: 'an HTML page, not a compliance posture list',
  HTML: 'an HTML page, not a compliance posture list',
};

const row: Record<string, Entry> = Object.fromEntries(ROW_FIELDS.filter((f) => f !== 'BOOLEAN_EXPR').map((f) => [f, fld(R[f])]));
row.EVIDENCE = ctx(C.EVIDENCE);

/** context -> element name -> entry */
export const TABLE: Record<number, Record<string, Entry>> = {
  [C.ROOT]: { RESPONSE: ctx(C.RESPONSE) },
  [C.RESPONSE]: { INFO_LIST: ctx(C.INFO_LIST), POLICY_LIST: ctx(C.POLICY_LIST), GLOSSARY: ctx(C.GLOSSARY), WARNING: ctx(C.WARNING) },
  [C.POLICY_LIST]: { POLICY: ctx(C.POLICY) },
  [C.POLICY]: { ID: fld(F.POLICY_ID), INFO_LIST: ctx(C.INFO_LIST) },
  [C.INFO_LIST]: { INFO: ctx(C.INFO) },
  [C.INFO]: row,
  [C.EVIDENCE]: { BOOLEAN_EXPR: fld(R.BOOLEAN_EXPR), DPV_LIST: ctx(C.DPV_LIST) },
  [C.DPV_LIST]: { DPV: ctx(C.DPV) },
  [C.DPV]: { LABEL: fld(F.DPV_LABEL), V: fld(F.DPV_V) },
  [C.GLOSSARY]: {
    HOST_LIST: ctx(C.HOSTS),
    CONTROL_LIST: ctx(C.CONTROLS),
    TECHNOLOGY_LIST: ctx(C.TECHS),
    TP_LIST: ctx(C.TOKENS),
    FV_LIST: ctx(C.TOKENS),
    DPD_LIST: ctx(C.DPDS),
    TM_LIST: ctx(C.TMS),
  },
  [C.HOSTS]: { HOST: ctx(C.HOST) },
  [C.HOST]: {
    ID: fld(F.HOST_ID),
    IP: fld(F.HOST_IP),
    DNS: fld(F.HOST_DNS),
    NETBIOS: fld(F.HOST_NETBIOS),
    OS: fld(F.HOST_OS),
    TRACKING_METHOD: fld(F.HOST_TRACKING),
  },
  [C.CONTROLS]: { CONTROL: ctx(C.CONTROL) },
  [C.CONTROL]: {
    ID: fld(F.CONTROL_ID),
    STATEMENT: fld(F.CONTROL_STATEMENT),
    CRITICALITY: { ctx: C.CRITICALITY, field: -1, attrs: { label: F.CRIT_LABEL, value: F.CRIT_VALUE } },
    REFERENCE: fld(F.CONTROL_REFERENCE),
    RATIONALE: fld(F.CONTROL_RATIONALE),
    RATIONALE_LIST: ctx(C.RATIONALES),
    REMEDIATION: fld(F.CONTROL_REMEDIATION),
  },
  [C.CRITICALITY]: { LABEL: fld(F.CRIT_LABEL), VALUE: fld(F.CRIT_VALUE) },
  [C.RATIONALES]: { RATIONALE: ctx(C.RATIONALE) },
  [C.RATIONALE]: { TECHNOLOGY_ID: fld(F.RATIONALE_TECH), TEXT: fld(F.RATIONALE_TEXT) },
  [C.TECHS]: { TECHNOLOGY: ctx(C.TECH) },
  [C.TECH]: { ID: fld(F.TECH_ID), NAME: fld(F.TECH_NAME) },
  [C.TOKENS]: { TP: ctx(C.TOKEN), FV: ctx(C.TOKEN) },
  [C.TOKEN]: { LABEL: fld(F.TOKEN_LABEL), V: fld(F.TOKEN_V) },
  [C.DPDS]: { DPD: ctx(C.DPD) },
  [C.DPD]: { LABEL: fld(F.DPD_LABEL), TM: fld(F.DPD_TM), TM_LABEL: fld(F.DPD_TM) },
  [C.TMS]: { TM: ctx(C.TM) },
  [C.TM]: { LABEL: fld(F.TM_LABEL), PAIR: ctx(C.PAIR) },
  [C.PAIR]: { K: fld(F.PAIR_K), V: fld(F.PAIR_V) },
  [C.WARNING]: { CODE: fld(F.WARNING_CODE), TEXT: fld(F.WARNING_TEXT), URL: fld(F.WARNING_URL) },
  [C.SIMPLE]: { RESPONSE: ctx(C.SIMPLE_RESPONSE) },
  [C.SIMPLE_RESPONSE]: { CODE: fld(F.ERROR_CODE), TEXT: fld(F.ERROR_TEXT) },
  [C.GENERIC]: { RETURN: { ctx: FIELD, field: F.ERROR_TEXT, attrs: { number: F.ERROR_CODE } } },
};

export interface CompiledEntry extends Entry {
  name: string;
  /** learned while parsing: the entry that followed this one last time (the next sibling is usually the same) */
  next: CompiledEntry | null;
}

/** a name's length, first and last character: a key to find an entry without making the name a string */
export function shapeKey(length: number, first: number, last: number): number {
  return length + 256 * (first + 65536 * last);
}

/** compiled once: context -> Map(name -> entry), and context -> Map(shape -> entries), for the hot path */
export const TABLES: Map<string, CompiledEntry>[] = [];
export const SHAPES: Map<number, CompiledEntry[]>[] = [];
for (const [c, entries] of Object.entries(TABLE)) {
  const byName = new Map(Object.entries(entries).map(([name, e]) => [name, { ...e, name, next: null }]));
  const byShape = new Map<number, CompiledEntry[]>();
  for (const e of byName.values()) {
    const k = shapeKey(e.name.length, e.name.charCodeAt(0), e.name.charCodeAt(e.name.length - 1));
    byShape.set(k, [...(byShape.get(k) ?? []), e]);
  }
  TABLES[Number(c)] = byName;
  SHAPES[Number(c)] = byShape;
}
