/**
 * THE element-name table of a Policy Report: which element, in which scope, fills which field or opens
 * which scope. A real report that names an element differently needs one line here, nothing else.
 * Elements not listed in their scope are ignored with everything inside them.
 */

/** Text fields, grouped by the record they fill. */
export const HEADER_FIELDS = [
  'title',
  'generatedAt',
  'company',
  'userName',
  'userLogin',
  'totalHosts',
  'totalControls',
  'totalControlInstances',
  'passed',
  'failed',
  'error',
] as const;
export const POLICY_FIELDS = ['policyId', 'policyTitle'] as const;
export const HOST_FIELDS = [
  'ip',
  'qualysHostId',
  'trackingMethod',
  'dns',
  'netbios',
  'os',
  'lastScanDate',
  'tag',
] as const;
export const RESULT_FIELDS = [
  'controlId',
  'statement',
  'criticalityLabel',
  'criticalityValue',
  'technology',
  'technologyId',
  /** TECHNOLOGY given as plain text */
  'technologyText',
  'instance',
  'status',
  'evaluationDate',
  'expected',
  'actual',
  /** EVIDENCE given as one free text "Expected Value(s) - .. | Current Value(s) - .." */
  'evidenceText',
  'rationale',
  'remediation',
  'previousStatus',
  'firstFailDate',
  'lastFailDate',
  'firstPassDate',
  'lastPassDate',
  'causeOfFailure',
  'controlReferences',
  'deprecated',
  'exceptionStatus',
  'exceptionAssignee',
  'exceptionEndDate',
  'exceptionCreatedBy',
  'exceptionCreatedDate',
  'exceptionModifiedBy',
  'exceptionModifiedDate',
] as const;
/** Qualys error envelopes (SIMPLE_RETURN, GENERIC_RETURN) */
export const ERROR_FIELDS = ['errorCode', 'errorText'] as const;

export type HeaderField = (typeof HEADER_FIELDS)[number];
export type PolicyField = (typeof POLICY_FIELDS)[number];
export type HostField = (typeof HOST_FIELDS)[number];
export type ResultField = (typeof RESULT_FIELDS)[number];
export type ErrorField = (typeof ERROR_FIELDS)[number];
export type Field = HeaderField | PolicyField | HostField | ResultField | ErrorField;

/**
 * Scopes. Entering and leaving some of them drives the records:
 * `policy`; `host` (grouped by host); `hostControl` (a result inside a host);
 * `statsHost` (POLICY/HOST_STATISTICS/HOST); `control` (grouped by control); `controlHost` (a result
 * inside a control); `hostControls` / `controlHosts` (the lists: the owner's own fields are complete);
 * `exception` (the result has an exception).
 */
export type Scope =
  | 'report'
  | 'header'
  | 'company'
  | 'user'
  | 'summary'
  | 'results'
  | 'policy'
  | 'hostList'
  | 'hostStats'
  | 'host'
  | 'statsHost'
  | 'tags'
  | 'hostControls'
  | 'hostControl'
  | 'controlList'
  | 'control'
  | 'controlHosts'
  | 'controlHost'
  | 'technology'
  | 'criticality'
  | 'evidence'
  | 'exception'
  | 'simpleReturn'
  | 'response'
  | 'genericReturn';

export type Entry =
  | { field: Field }
  /** a container; `text` collects its own text too (TECHNOLOGY, EVIDENCE); `attrs` maps attributes */
  | { scope: Scope; text?: Field; attrs?: Record<string, Field> };

const f = (field: Field): Entry => ({ field });
const s = (scope: Scope, more: { text?: Field; attrs?: Record<string, Field> } = {}): Entry => ({ scope, ...more });

/** Root element -> scope. Other roots are refused (see FOREIGN_ROOTS for the known ones). */
export const ROOTS: Record<string, Scope> = {
  COMPLIANCE_POLICY_REPORT: 'report',
  POLICY_REPORT: 'report',
  SIMPLE_RETURN: 'simpleReturn',
  GENERIC_RETURN: 'genericReturn',
};

/** Roots we recognise as something else, to say what the file is. */
export const FOREIGN_ROOTS: Record<string, string> = {
  ASSET_DATA_REPORT: 'a vulnerability scan report, not a policy report',
  SCAN: 'a vulnerability scan result, not a policy report',
  REPORT_LIST_OUTPUT: 'a Qualys report list, not a report',
  HOST_LIST_OUTPUT: 'a Qualys host list, not a policy report',
  HOST_LIST_VM_DETECTION_OUTPUT: 'a vulnerability detection list, not a policy report',
  POSTURE_INFO_LIST_OUTPUT: 'a compliance posture list, not a policy report',
  html: 'an HTML page, not a policy report',
  HTML: 'an HTML page, not a policy report',
};

const hostFields = {
  IP: f('ip'),
  QG_HOSTID: f('qualysHostId'),
  HOST_ID: f('qualysHostId'),
  QUALYS_HOST_ID: f('qualysHostId'),
  TRACKING_METHOD: f('trackingMethod'),
  DNS: f('dns'),
  NETBIOS: f('netbios'),
  OPERATING_SYSTEM: f('os'),
  OS: f('os'),
  LAST_SCAN_DATE: f('lastScanDate'),
  ASSET_TAGS: s('tags'),
};

const evidenceFields = {
  EXPECTED: f('expected'),
  EXPECTED_VALUE: f('expected'),
  EXPECTED_RESULT: f('expected'),
  ACTUAL: f('actual'),
  ACTUAL_VALUE: f('actual'),
  ACTUAL_RESULT: f('actual'),
  CURRENT_VALUE: f('actual'),
};

const resultFields = {
  CID: f('controlId'),
  CONTROL_ID: f('controlId'),
  STATEMENT: f('statement'),
  CRITICALITY: s('criticality', { attrs: { label: 'criticalityLabel', value: 'criticalityValue' } }),
  CRITICALITY_LABEL: f('criticalityLabel'),
  CRITICALITY_VALUE: f('criticalityValue'),
  TECHNOLOGY: s('technology', { text: 'technologyText' }),
  TECHNOLOGY_NAME: f('technology'),
  TECHNOLOGY_ID: f('technologyId'),
  INSTANCE: f('instance'),
  STATUS: f('status'),
  EVALUATION_DATE: f('evaluationDate'),
  EVIDENCE: s('evidence', { text: 'evidenceText' }),
  ...evidenceFields,
  RATIONALE: f('rationale'),
  REMEDIATION: f('remediation'),
  PREVIOUS_STATUS: f('previousStatus'),
  FIRST_FAIL_DATE: f('firstFailDate'),
  LAST_FAIL_DATE: f('lastFailDate'),
  FIRST_PASS_DATE: f('firstPassDate'),
  LAST_PASS_DATE: f('lastPassDate'),
  CAUSE_OF_FAILURE: f('causeOfFailure'),
  CONTROL_REFERENCES: f('controlReferences'),
  DEPRECATED: f('deprecated'),
  EXCEPTION: s('exception'),
};

/** scope -> element name -> entry */
export const ELEMENTS: Record<Scope, Record<string, Entry>> = {
  report: { HEADER: s('header'), SUMMARY: s('summary'), RESULTS: s('results'), POLICY: s('policy') },
  header: {
    NAME: f('title'),
    GENERATION_DATETIME: f('generatedAt'),
    COMPANY_INFO: s('company'),
    USER_INFO: s('user'),
  },
  company: { NAME: f('company') },
  user: { NAME: f('userName'), USERNAME: f('userLogin') },
  summary: {
    TOTAL_HOSTS: f('totalHosts'),
    TOTAL_CONTROLS: f('totalControls'),
    TOTAL_CONTROL_INSTANCES: f('totalControlInstances'),
    PASSED: f('passed'),
    FAILED: f('failed'),
    ERROR: f('error'),
  },
  results: { POLICY: s('policy') },
  policy: {
    ID: f('policyId'),
    TITLE: f('policyTitle'),
    HOST_LIST: s('hostList'),
    HOST_STATISTICS: s('hostStats'),
    CONTROL_LIST: s('controlList'),
  },
  // grouped by host: POLICY/HOST_LIST/HOST/CONTROL_LIST/CONTROL
  hostList: { HOST: s('host') },
  host: { ...hostFields, CONTROL_LIST: s('hostControls') },
  tags: { ASSET_TAG: f('tag'), TAG: f('tag') },
  hostControls: { CONTROL: s('hostControl') },
  hostControl: resultFields,
  // grouped by control: POLICY/HOST_STATISTICS/HOST, POLICY/CONTROL_LIST/CONTROL/HOST_LIST/HOST
  hostStats: { HOST: s('statsHost') },
  statsHost: hostFields,
  controlList: { CONTROL: s('control') },
  control: { ...resultFields, HOST_LIST: s('controlHosts') },
  controlHosts: { HOST: s('controlHost') },
  controlHost: { ...hostFields, ...resultFields },
  // parts of a result
  technology: { ID: f('technologyId'), NAME: f('technology') },
  criticality: { LABEL: f('criticalityLabel'), VALUE: f('criticalityValue') },
  evidence: evidenceFields,
  exception: {
    STATUS: f('exceptionStatus'),
    ASSIGNEE: f('exceptionAssignee'),
    END_DATE: f('exceptionEndDate'),
    CREATED_BY: f('exceptionCreatedBy'),
    CREATED_DATE: f('exceptionCreatedDate'),
    MODIFIED_BY: f('exceptionModifiedBy'),
    MODIFIED_DATE: f('exceptionModifiedDate'),
  },
  // Qualys error envelopes
  simpleReturn: { RESPONSE: s('response') },
  response: { CODE: f('errorCode'), TEXT: f('errorText') },
  genericReturn: { RETURN: s('response', { text: 'errorText', attrs: { number: 'errorCode' } }) },
};
