/**
 * What the report generator needs to produce one Policy Report: the data (size, ratios, seed,
 * mutations) and the form (layout, variants of policy-report.md). Pure data, JSON-serializable: the
 * ETag of a report is a hash of its resolved spec.
 */

export type Layout = 'by-host' | 'by-control';

export interface Variants {
  /** root element (variant 1) */
  root: 'COMPLIANCE_POLICY_REPORT' | 'POLICY_REPORT';
  /** element carrying the Qualys host id, or none at all (variant 4) */
  hostIdElement: 'QG_HOSTID' | 'HOST_ID' | 'QUALYS_HOST_ID' | 'none';
  /** TECHNOLOGY/ID+NAME, plain-text TECHNOLOGY, or TECHNOLOGY_NAME + TECHNOLOGY_ID (variant 5) */
  technology: 'element' | 'text' | 'fields';
  /** EVIDENCE/EXPECTED+ACTUAL, EXPECTED_VALUE/ACTUAL_VALUE (and synonyms) in the result, or one free text (variant 6) */
  evidence: 'element' | 'fields' | 'text';
  /** CRITICALITY/LABEL+VALUE, attributes, or CRITICALITY_LABEL + CRITICALITY_VALUE (variant 7) */
  criticality: 'element' | 'attributes' | 'fields';
  /** CDATA sections or escaped text (variant 8) */
  text: 'cdata' | 'escaped';
  /** UTF-8 byte order mark (variant 9) */
  bom: boolean;
  /** extra comments and a processing instruction before and after the root (variant 9) */
  comments: boolean;
  /** STATUS letter case: Passed, PASSED, passed, or a per-result mix (variant 10) */
  statusCase: 'title' | 'upper' | 'lower' | 'mixed';
  /** unknown elements in hosts and results (variant 11) */
  unknownElements: boolean;
  /** share of hosts with an IPv6 address, 0..1 (variant 12) */
  ipv6Share: number;
  /** optional result fields: previous status, pass/fail dates, cause of failure, references, exceptions */
  optionalFields: boolean;
  /**
   * a few broken elements per policy that the parser must reject one by one (a host with neither IP
   * nor host id, a result without CID, a result with an unknown status); default false
   */
  rejectSamples?: boolean;
}

export interface ReportSize {
  hosts: number;
  /** controls per policy */
  controls: number;
  /** most instances a control has on one host (controls have 1..this many technology/instance pairs) */
  instancesPerControl: number;
  policies: number;
}

/** relative weights of the three test statuses */
export interface Ratios {
  passed: number;
  failed: number;
  error: number;
}

export type Mutation =
  /** flip percent% of the results: Passed -> Failed, Failed -> Passed, Error -> Passed */
  | { type: 'flip'; percent: number }
  /** drop percent% of the hosts from every policy */
  | { type: 'dropHosts'; percent: number }
  /** drop the named controls (CIDs) from the hosts with index < firstHosts */
  | { type: 'dropControls'; cids: string[]; firstHosts: number }
  /** drop percent% of the non-first instances of multi-instance controls */
  | { type: 'dropInstances'; percent: number };

export interface ReportSpec {
  id: string;
  title: string;
  seed: number;
  layout: Layout;
  variants: Variants;
  size: ReportSize;
  ratios: Ratios;
  /** applied in order; a derived report carries its base's mutations first */
  mutations: Mutation[];
  /** GENERATION_DATETIME; the dates inside the report derive from it (never from the clock) */
  generatedAt: string;
  company: string;
  userName: string;
  userLogin: string;
  firstPolicyId: number;
  firstControlId: number;
  firstHostId: number;
}

export const CANONICAL_VARIANTS: Variants = {
  root: 'COMPLIANCE_POLICY_REPORT',
  hostIdElement: 'QG_HOSTID',
  technology: 'element',
  evidence: 'element',
  criticality: 'element',
  text: 'cdata',
  bom: false,
  comments: false,
  statusCase: 'title',
  unknownElements: false,
  ipv6Share: 0,
  optionalFields: true,
};

export const DEFAULT_SPEC: Omit<ReportSpec, 'id' | 'title'> = {
  seed: 1,
  layout: 'by-host',
  variants: CANONICAL_VARIANTS,
  size: { hosts: 50, controls: 10, instancesPerControl: 2, policies: 1 },
  ratios: { passed: 6, failed: 3, error: 1 },
  mutations: [],
  generatedAt: '2026-11-20T10:00:00Z',
  company: 'Acme Corp',
  userName: 'Ada Admin',
  userLogin: 'demo',
  firstPolicyId: 1234,
  firstControlId: 1001,
  firstHostId: 98001,
};

/** A full spec from a partial one (variants and size merged field by field). */
export function reportSpec(p: Partial<ReportSpec> & { id: string; title: string }): ReportSpec {
  return {
    ...DEFAULT_SPEC,
    ...p,
    variants: { ...DEFAULT_SPEC.variants, ...p.variants },
    size: { ...DEFAULT_SPEC.size, ...p.size },
    ratios: { ...DEFAULT_SPEC.ratios, ...p.ratios },
    mutations: p.mutations ?? [],
  };
}
