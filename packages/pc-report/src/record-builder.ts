/**
 * Turns the field values the parser gathered into records: header, policy, host, finding, rejected and
 * summary. Knows both layouts: results grouped by host (HOST holds its CONTROLs) and grouped by control
 * (CONTROL holds its HOSTs; host details completed from POLICY/HOST_STATISTICS).
 */
import {
  DEFAULT_CRITICALITY_LABELS,
  findingKey,
  hostKey,
  normalizeIp,
  parseTestStatus,
  severityFromCriticality,
  statusFromTestStatus,
  type TestStatus,
} from '@qpc/domain';
import { GROUP_SIZES, G_ERROR, G_HEADER, G_HOST, G_POLICY, G_RESULT, HEADER, HOST, RESULT } from './compiled-table.ts';
import { ReportError } from './errors.ts';
import { splitEvidence } from './evidence.ts';
import type { FindingRecord, HostRecord, RejectReason, ReportRecord } from './records.ts';

type Vals = (string | null)[];
const nulls = (n: number): Vals => new Array<string | null>(n).fill(null);

function toInt(s: string | null | undefined): number | null {
  if (s == null) return null;
  const n = Number(s);
  return Number.isInteger(n) ? n : null;
}

function toBool(s: string | null | undefined): boolean | null {
  switch (s?.toLowerCase()) {
    case '1':
    case 'true':
    case 'yes':
    case 'y':
      return true;
    case '0':
    case 'false':
    case 'no':
    case 'n':
      return false;
    default:
      return null;
  }
}

/** a result field: the result's own value, else its control's */
function pick(own: Vals, dflt: Vals, i: number): string | null {
  return own[i] ?? dflt[i] ?? null;
}

function evidence(vals: Vals): { expected: string | null; actual: string | null } | null {
  const expected = vals[RESULT.expected] ?? null;
  const actual = vals[RESULT.actual] ?? null;
  if (expected !== null || actual !== null) return { expected, actual };
  const text = vals[RESULT.evidenceText];
  return text == null ? null : splitEvidence(text);
}

export class RecordBuilder {
  root = '';
  readonly headerVals: Vals = nulls(GROUP_SIZES[G_HEADER]!);
  readonly policyVals: Vals = nulls(GROUP_SIZES[G_POLICY]!);
  readonly errorVals: Vals = nulls(GROUP_SIZES[G_ERROR]!);
  hostVals: Vals = nulls(GROUP_SIZES[G_HOST]!);
  tags: string[] = [];
  /** character offsets where the current elements start (lines are computed only when reported) */
  private hostAt = 0;
  /** where result fields go now: the control's own values, or the result's */
  resultVals: Vals;
  private readonly controlVals: Vals = nulls(GROUP_SIZES[G_RESULT]!);
  private readonly ownVals: Vals = nulls(GROUP_SIZES[G_RESULT]!);
  private readonly noVals: Vals = nulls(GROUP_SIZES[G_RESULT]!);
  private controlException = false;
  private ownException = false;
  private resultAt = 0;
  private controlAt = 0;
  private controlFrozen = false;
  private controlRejected = false;

  private headerDone = false;
  private policyDone = false;
  private policyAt = 0;
  private policyId = '';
  private policyTitle: string | null = null;
  private hostsSeen = new Set<string>();
  /** POLICY/HOST_STATISTICS hosts by `qid:` and `ip:` key */
  private stats = new Map<string, HostRecord>();
  /** the current by-host HOST, once its own fields are complete */
  private host: HostRecord | null = null;
  private hostFrozen = false;

  private n = { hosts: 0, findings: 0, passed: 0, failed: 0, error: 0, rejected: 0, policies: 0 };

  /** `lineOf` turns a character offset into a line; asked only when a line is reported */
  constructor(
    private readonly out: ReportRecord[],
    private readonly lineOf: (at: number) => number,
  ) {
    this.resultVals = this.ownVals;
  }

  header(): void {
    if (this.headerDone) return;
    this.headerDone = true;
    const h = this.headerVals;
    this.out.push({
      type: 'header',
      root: this.root,
      title: h[HEADER.title] ?? null,
      generatedAt: h[HEADER.generatedAt] ?? null,
      company: h[HEADER.company] ?? null,
      userName: h[HEADER.userName] ?? null,
      userLogin: h[HEADER.userLogin] ?? null,
      declared: {
        totalHosts: toInt(h[HEADER.totalHosts]),
        totalControls: toInt(h[HEADER.totalControls]),
        totalControlInstances: toInt(h[HEADER.totalControlInstances]),
        passed: toInt(h[HEADER.passed]),
        failed: toInt(h[HEADER.failed]),
        error: toInt(h[HEADER.error]),
      },
    });
  }

  startPolicy(at: number): void {
    this.header();
    this.policyVals.fill(null);
    this.policyDone = false;
    this.policyId = '';
    this.policyTitle = null;
    this.policyAt = at;
    this.hostsSeen = new Set();
    this.stats = new Map();
  }

  /** Emits the policy record once its ID and TITLE are known (before its hosts or controls). */
  policy(): void {
    if (this.policyDone) return;
    const id = this.policyVals[0];
    if (!id) {
      throw new ReportError('MISSING_POLICY_ID', 'a POLICY element has no ID before its hosts or controls', { line: this.lineOf(this.policyAt) });
    }
    this.policyDone = true;
    this.policyId = id;
    this.policyTitle = this.policyVals[1] ?? null;
    this.n.policies++;
    this.out.push({ type: 'policy', policyId: id, policyTitle: this.policyTitle });
  }

  startHost(at: number): void {
    this.hostVals.fill(null);
    this.tags = [];
    this.hostAt = at;
    this.host = null;
    this.hostFrozen = false;
  }

  addTag(tag: string): void {
    if (!this.tags.includes(tag)) this.tags.push(tag);
  }

  /** by host: the HOST's own fields are complete (its CONTROL_LIST starts, or it ends) */
  freezeHost(): void {
    if (this.hostFrozen) return;
    this.hostFrozen = true;
    this.policy();
    const h = this.mergedHost();
    if (!h) {
      const line = this.lineOf(this.hostAt);
      this.reject('missing-host-identity', `host at line ${line} has neither an IP nor a host id; its results are skipped`, line, null, null);
      return;
    }
    this.host = h;
    this.emitHost(h);
  }

  endHost(): void {
    this.freezeHost();
    this.host = null;
  }

  endStatsHost(): void {
    const h = this.buildHost();
    if (!h) {
      const line = this.lineOf(this.hostAt);
      this.reject('missing-host-identity', `host at line ${line} (HOST_STATISTICS) has neither an IP nor a host id`, line, null, null);
      return;
    }
    if (h.qualysHostId) this.stats.set(`qid:${h.qualysHostId}`, h);
    if (h.ip) this.stats.set(`ip:${normalizeIp(h.ip)}`, h);
    this.emitHost(h);
  }

  startResult(at: number, isControl: boolean): void {
    if (isControl) {
      this.controlVals.fill(null);
      this.controlException = false;
      this.controlAt = at;
      this.controlFrozen = false;
      this.controlRejected = false;
      this.resultVals = this.controlVals;
    } else {
      this.ownVals.fill(null);
      this.ownException = false;
      this.resultAt = at;
      this.resultVals = this.ownVals;
    }
  }

  markException(): void {
    if (this.resultVals === this.controlVals) this.controlException = true;
    else this.ownException = true;
  }

  /** by control: the CONTROL's own fields are complete (its HOST_LIST starts) */
  freezeControl(): void {
    if (this.controlFrozen) return;
    this.controlFrozen = true;
    if (!this.controlVals[RESULT.controlId]) {
      this.controlRejected = true;
      const line = this.lineOf(this.controlAt);
      this.reject('missing-control-id', `control at line ${line} has no control id (CID); its results are skipped`, line, null, null);
    }
  }

  endControl(): void {
    this.resultVals = this.ownVals;
  }

  /** by host: a CONTROL inside a HOST */
  endHostControl(): void {
    const h = this.host;
    if (h) this.finding(h, this.ownVals, this.noVals, this.ownException, this.resultAt);
    this.resultVals = this.ownVals;
  }

  /** by control: a HOST inside a CONTROL holds the host and the result */
  endControlHost(): void {
    this.resultVals = this.controlVals;
    if (this.controlRejected) return;
    this.freezeControl();
    if (this.controlRejected) return;
    const h = this.mergedHost();
    if (!h) {
      const cid = this.controlVals[RESULT.controlId] ?? null;
      const line = this.lineOf(this.resultAt);
      this.reject('missing-host-identity', `result at line ${line} (control ${cid}): the host has neither an IP nor a host id`, line, null, cid);
      return;
    }
    this.emitHost(h);
    this.finding(h, this.ownVals, this.controlVals, this.ownException || this.controlException, this.resultAt);
  }

  finish(bytes: number, invalidUtf8: number): void {
    this.header();
    const n = this.n;
    this.out.push({
      type: 'summary',
      hosts: n.hosts,
      findings: n.findings,
      passed: n.passed,
      failed: n.failed,
      error: n.error,
      rejected: n.rejected,
      policies: n.policies,
      bytes,
      invalidUtf8,
    });
  }

  private buildHost(): HostRecord | null {
    const v = this.hostVals;
    const ip = v[HOST.ip] ?? null;
    const qualysHostId = v[HOST.qualysHostId] ?? null;
    const key = hostKey({ ip, qualysHostId });
    if (!key) return null;
    const dns = v[HOST.dns] ?? null;
    const netbios = v[HOST.netbios] ?? null;
    return {
      type: 'host',
      hostKey: key,
      policyId: this.policyId,
      ip,
      qualysHostId,
      hostname: dns ?? netbios,
      dns,
      netbios,
      os: v[HOST.os] ?? null,
      trackingMethod: v[HOST.trackingMethod] ?? null,
      lastScanDate: v[HOST.lastScanDate] ?? null,
      tags: this.tags,
    };
  }

  /** The host element's own fields, completed from HOST_STATISTICS (matched by host id, else IP). */
  private mergedHost(): HostRecord | null {
    const v = this.hostVals;
    if (this.stats.size > 0) {
      const id = v[HOST.qualysHostId];
      const ip = v[HOST.ip];
      const s = (id ? this.stats.get(`qid:${id}`) : undefined) ?? (ip ? this.stats.get(`ip:${normalizeIp(ip)}`) : undefined);
      if (s) {
        v[HOST.qualysHostId] ??= s.qualysHostId;
        v[HOST.ip] ??= s.ip;
        v[HOST.dns] ??= s.dns;
        v[HOST.netbios] ??= s.netbios;
        v[HOST.os] ??= s.os;
        v[HOST.trackingMethod] ??= s.trackingMethod;
        v[HOST.lastScanDate] ??= s.lastScanDate;
        if (this.tags.length === 0) this.tags = s.tags.slice();
      }
    }
    return this.buildHost();
  }

  private emitHost(h: HostRecord): void {
    if (this.hostsSeen.has(h.hostKey)) return;
    this.hostsSeen.add(h.hostKey);
    this.n.hosts++;
    this.out.push(h);
  }

  private finding(h: HostRecord, own: Vals, dflt: Vals, hasException: boolean, at: number): void {
    const controlId = pick(own, dflt, RESULT.controlId);
    if (!controlId) {
      const line = this.lineOf(at);
      this.reject('missing-control-id', `result at line ${line} has no control id (CID)`, line, h, null);
      return;
    }
    const rawStatus = pick(own, dflt, RESULT.status);
    // the usual spelling first; any other letter case goes through the domain rule
    const testStatus: TestStatus | null =
      rawStatus === 'Passed' || rawStatus === 'Failed' || rawStatus === 'Error' ? rawStatus : parseTestStatus(rawStatus);
    if (!testStatus) {
      const line = this.lineOf(at);
      const what = rawStatus === null ? 'has no test status (STATUS)' : `has test status ${JSON.stringify(rawStatus)}`;
      this.reject('unknown-test-status', `result at line ${line} (control ${controlId}, host ${h.hostKey}) ${what}; expected Passed, Failed or Error`, line, h, controlId);
      return;
    }
    // technology and evidence come as a whole from the most specific level that has them
    const ownTech = own[RESULT.technology] ?? own[RESULT.technologyText] ?? null;
    const technology = ownTech ?? dflt[RESULT.technology] ?? dflt[RESULT.technologyText] ?? null;
    const technologyId = ownTech !== null ? (own[RESULT.technologyId] ?? null) : pick(own, dflt, RESULT.technologyId);
    const instance = pick(own, dflt, RESULT.instance);
    const criticalityValue = toInt(pick(own, dflt, RESULT.criticalityValue));
    const { expected, actual } = evidence(own) ?? evidence(dflt) ?? { expected: null, actual: null };
    const rec: FindingRecord = {
      type: 'finding',
      findingKey: findingKey({ hostKey: h.hostKey, policyId: this.policyId, controlId, technology, instance }),
      hostKey: h.hostKey,
      ip: h.ip,
      qualysHostId: h.qualysHostId,
      policyId: this.policyId,
      policyTitle: this.policyTitle,
      controlId,
      statement: pick(own, dflt, RESULT.statement),
      technology,
      technologyId,
      instance,
      testStatus,
      status: statusFromTestStatus(testStatus),
      severity: severityFromCriticality(criticalityValue),
      criticalityLabel: pick(own, dflt, RESULT.criticalityLabel) ?? (criticalityValue !== null ? DEFAULT_CRITICALITY_LABELS[criticalityValue] : undefined) ?? 'Unknown',
      criticalityValue,
      expected,
      actual,
      rationale: pick(own, dflt, RESULT.rationale),
      remediation: pick(own, dflt, RESULT.remediation),
      evaluationDate: pick(own, dflt, RESULT.evaluationDate),
      previousStatus: pick(own, dflt, RESULT.previousStatus),
      firstFailDate: pick(own, dflt, RESULT.firstFailDate),
      lastFailDate: pick(own, dflt, RESULT.lastFailDate),
      firstPassDate: pick(own, dflt, RESULT.firstPassDate),
      lastPassDate: pick(own, dflt, RESULT.lastPassDate),
      causeOfFailure: pick(own, dflt, RESULT.causeOfFailure),
      controlReferences: pick(own, dflt, RESULT.controlReferences),
      deprecated: toBool(pick(own, dflt, RESULT.deprecated)),
      exception: hasException
        ? {
            status: pick(own, dflt, RESULT.exceptionStatus),
            assignee: pick(own, dflt, RESULT.exceptionAssignee),
            endDate: pick(own, dflt, RESULT.exceptionEndDate),
            createdBy: pick(own, dflt, RESULT.exceptionCreatedBy),
            createdDate: pick(own, dflt, RESULT.exceptionCreatedDate),
            modifiedBy: pick(own, dflt, RESULT.exceptionModifiedBy),
            modifiedDate: pick(own, dflt, RESULT.exceptionModifiedDate),
          }
        : null,
    };
    this.n.findings++;
    if (testStatus === 'Passed') this.n.passed++;
    else if (testStatus === 'Failed') this.n.failed++;
    else this.n.error++;
    this.out.push(rec);
  }

  private reject(reason: RejectReason, message: string, line: number, h: HostRecord | null, controlId: string | null): void {
    this.n.rejected++;
    const ip = h?.ip ?? this.hostVals[HOST.ip] ?? null;
    this.out.push({
      type: 'rejected',
      reason,
      message: this.policyId ? `${message} (policy ${this.policyId})` : message,
      line,
      policyId: this.policyId || null,
      hostKey: h?.hostKey ?? null,
      ip,
      controlId,
    });
  }
}
