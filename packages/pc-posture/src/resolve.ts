/**
 * Turns staged rows into the records of @qpc/pc-report once the glossary is known: the host from
 * HOST_LIST, the control's statement, criticality and rationale from CONTROL_LIST, the technology name
 * from TECHNOLOGY_LIST, the expected value from the BOOLEAN_EXPR tokens, the actual value from the data
 * point values translated through TM_LIST. Keys and severity follow the same domain rules as reports.
 */
import {
  DEFAULT_CRITICALITY_LABELS,
  findingKey,
  hostKey,
  parseTestStatus,
  severityFromCriticality,
  statusFromTestStatus,
  type TestStatus,
} from '@qpc/domain';
import { R } from './elements.ts';
import { tokenKey, type Glossary } from './glossary.ts';
import type { StagedRow } from './posture-parser.ts';
import type { FindingRecord, HostRecord, PostureRecord, PostureRejectedRecord, PostureRejectReason } from './records.ts';

/** values of one expected-value token, as joined in the expected result */
export const OR = ' ==OR== ';
/** values of the data points, as joined in the actual result */
export const ACTUAL_SEPARATOR = '\n';

const EXPR_CACHE = 10_000;
const TOKEN = /[$#](?:tp|fv)_[\w.]*\w/g;

export interface ResolveOptions {
  /** the policy of rows that name none (a flat INFO_LIST asked for one policy) */
  policyId?: string | null;
  /** policy id -> title, from the policy list */
  policyTitles?: Record<string, string> | Map<string, string>;
}

export interface Tally {
  hosts: number;
  findings: number;
  passed: number;
  failed: number;
  error: number;
  rejected: number;
  policies: number;
}

function toInt(s: string | null | undefined): number | null {
  if (s == null) return null;
  const n = Number(s);
  return Number.isInteger(n) ? n : null;
}

export class Resolver {
  readonly n: Tally = { hosts: 0, findings: 0, passed: 0, failed: 0, error: 0, rejected: 0, policies: 0 };
  private readonly hostsSeen = new Set<string>();
  private readonly policies = new Map<string, string | null>();
  private readonly titles: Map<string, string>;
  private readonly exprs = new Map<string, string | null>();

  constructor(
    private readonly g: Glossary,
    private readonly opts: ResolveOptions = {},
  ) {
    const t = opts.policyTitles;
    this.titles = t instanceof Map ? t : new Map(Object.entries(t ?? {}));
  }

  /** the records of one row, pushed to `out` */
  resolve(row: StagedRow, out: PostureRecord[]): void {
    const f = row.f;
    const policyId = f[R.POLICY_ID] ?? row.group ?? this.opts.policyId ?? null;
    const controlId = f[R.CONTROL_ID];
    const hostId = f[R.HOST_ID];
    if (!policyId) return this.reject(out, 'missing-policy-id', row, 'names no policy (no POLICY_ID, no POLICY around it)', null, null, null);
    if (!controlId) return this.reject(out, 'missing-control-id', row, 'has no CONTROL_ID', policyId, null, null);
    if (!hostId) return this.reject(out, 'missing-host-identity', row, `(control ${controlId}) has no HOST_ID`, policyId, null, controlId);
    const gh = this.g.hosts.get(hostId);
    if (!gh) return this.reject(out, 'unknown-host', row, `(control ${controlId}) names host ${hostId}, which the glossary's HOST_LIST does not list`, policyId, null, controlId);
    const key = hostKey({ qualysHostId: hostId, ip: gh.ip }) as string;
    const gc = this.g.controls.get(controlId);
    if (!gc) return this.reject(out, 'unknown-control', row, `names control ${controlId}, which the glossary's CONTROL_LIST does not list`, policyId, key, controlId, gh.ip);
    const techId = f[R.TECHNOLOGY_ID] ?? null;
    const technology = techId === null ? null : (this.g.technologies.get(techId) ?? null);
    if (techId !== null && technology === null) {
      return this.reject(out, 'unknown-technology', row, `(control ${controlId}) names technology ${techId}, which the glossary's TECHNOLOGY_LIST does not list`, policyId, key, controlId, gh.ip);
    }
    const raw = f[R.STATUS] ?? null;
    const testStatus: TestStatus | null = raw === 'Passed' || raw === 'Failed' || raw === 'Error' ? raw : parseTestStatus(raw);
    if (!testStatus) {
      const what = raw === null ? 'has no STATUS' : `has STATUS ${JSON.stringify(raw)}`;
      return this.reject(out, 'unknown-test-status', row, `(control ${controlId}, host ${key}) ${what}; expected Passed, Failed or Error`, policyId, key, controlId, gh.ip);
    }

    const policyTitle = this.policy(policyId, out);
    const hostSeen = `${policyId}\u0000${key}`;
    if (!this.hostsSeen.has(hostSeen)) {
      this.hostsSeen.add(hostSeen);
      this.n.hosts++;
      const h: HostRecord = {
        type: 'host',
        hostKey: key,
        policyId,
        ip: gh.ip,
        qualysHostId: hostId,
        hostname: gh.dns ?? gh.netbios,
        dns: gh.dns,
        netbios: gh.netbios,
        os: gh.os,
        trackingMethod: gh.trackingMethod,
        lastScanDate: null,
        tags: [],
      };
      out.push(h);
    }
    const instance = f[R.INSTANCE] ?? null;
    const criticalityValue = toInt(gc.criticalityValue);
    const rec: FindingRecord = {
      type: 'finding',
      findingKey: findingKey({ hostKey: key, policyId, controlId, technology, instance }),
      hostKey: key,
      ip: gh.ip,
      qualysHostId: hostId,
      policyId,
      policyTitle,
      controlId,
      statement: gc.statement,
      technology,
      technologyId: techId,
      instance,
      testStatus,
      status: statusFromTestStatus(testStatus),
      severity: severityFromCriticality(criticalityValue),
      criticalityLabel: gc.criticalityLabel ?? (criticalityValue !== null ? DEFAULT_CRITICALITY_LABELS[criticalityValue] : undefined) ?? 'Unknown',
      criticalityValue,
      expected: this.expected(f[R.BOOLEAN_EXPR] ?? null),
      actual: this.actual(row.dpvs),
      rationale: (techId !== null ? gc.rationales?.get(techId) : undefined) ?? gc.rationale,
      remediation: f[R.REMEDIATION] ?? gc.remediation,
      evaluationDate: f[R.EVALUATION_DATE] ?? null,
      previousStatus: f[R.PREVIOUS_STATUS] ?? null,
      firstFailDate: f[R.FIRST_FAIL_DATE] ?? null,
      lastFailDate: f[R.LAST_FAIL_DATE] ?? null,
      firstPassDate: f[R.FIRST_PASS_DATE] ?? null,
      lastPassDate: f[R.LAST_PASS_DATE] ?? null,
      causeOfFailure: f[R.CAUSE_OF_FAILURE] ?? null,
      controlReferences: gc.references,
      deprecated: null,
      exception: null,
    };
    this.n.findings++;
    if (testStatus === 'Passed') this.n.passed++;
    else if (testStatus === 'Failed') this.n.failed++;
    else this.n.error++;
    out.push(rec);
  }

  /** BOOLEAN_EXPR with each `#fv_` / `$tp_` token replaced by its glossary values (a token the glossary lacks stays) */
  expected(expr: string | null): string | null {
    if (expr === null) return null;
    // rows of one control share their expression: substituted once (the cache is bounded)
    const hit = this.exprs.get(expr);
    if (hit !== undefined) return hit;
    const v = this.substitute(expr);
    if (this.exprs.size < EXPR_CACHE) this.exprs.set(expr, v);
    return v;
  }

  private substitute(expr: string): string | null {
    const s = expr.replace(TOKEN, (tok) => {
      const vs = this.g.tokens.get(tokenKey(tok));
      return vs === undefined ? tok : vs.join(OR);
    });
    const t = s.trim();
    return t ? t : null;
  }

  /** each data point value, translated through the TM its DPD names (else through every TM's pairs) */
  actual(dpvs: string[][]): string | null {
    const parts: string[] = [];
    for (const d of dpvs) {
      const tmLabel = d[0] ? this.g.dpdTm.get(tokenKey(d[0])) : undefined;
      const tm = (tmLabel !== undefined ? this.g.tms.get(tmLabel) : undefined) ?? this.g.allPairs;
      for (let i = 1; i < d.length; i++) parts.push(tm.get(d[i]!) ?? d[i]!);
    }
    const t = parts.join(ACTUAL_SEPARATOR).trim();
    return t ? t : null;
  }

  private policy(id: string, out: PostureRecord[]): string | null {
    const known = this.policies.get(id);
    if (known !== undefined) return known;
    const title = this.titles.get(id) ?? null;
    this.policies.set(id, title);
    this.n.policies++;
    out.push({ type: 'policy', policyId: id, policyTitle: title });
    return title;
  }

  private reject(
    out: PostureRecord[],
    reason: PostureRejectReason,
    row: StagedRow,
    what: string,
    policyId: string | null,
    key: string | null,
    controlId: string | null,
    ip: string | null = null,
  ): void {
    this.n.rejected++;
    const id = row.f[R.ID];
    const rec: PostureRejectedRecord = {
      type: 'rejected',
      reason,
      message: `row at line ${row.line}${id ? ` (ID ${id})` : ''} ${what}${policyId ? ` (policy ${policyId})` : ''}`,
      line: row.line,
      policyId,
      hostKey: key,
      ip,
      controlId,
    };
    out.push(rec);
  }
}
