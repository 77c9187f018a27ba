/**
 * Ground truth: the normalized records the parser must produce for a generated report, built from the
 * same ReportModel as the XML. Order: header, policies, then hosts and findings, summary last (tests
 * compare by key, not by position).
 */
import {
  DEFAULT_CRITICALITY_LABELS,
  findingKey,
  hostKey,
  severityFromCriticality,
  statusFromTestStatus,
  type TestStatus,
} from '@qpc/domain';
import type { FindingRecord, HeaderRecord, HostRecord, PolicyRecord, RejectedRecord, ReportRecord, SummaryRecord } from '@qpc/pc-report';
import { evidenceText } from './fragments.ts';
import { countResults, rejectSamples, reportByteLength } from './generate.ts';
import { ERROR, FAILED, PASSED, R_EXC, R_PREV, ReportModel, STATUS_TITLE, type ControlDef, type HostDef } from './model.ts';
import type { ReportSpec } from './spec.ts';

function trimmed(s: string | null): string | null {
  if (s === null) return null;
  const t = s.trim();
  return t === '' ? null : t;
}

/** expected and actual as the parser reads them from the chosen evidence form */
function evidence(spec: ReportSpec, c: ControlDef, s: number): { expected: string | null; actual: string | null } {
  if (spec.variants.evidence !== 'text') return { expected: trimmed(c.expected), actual: trimmed(c.actual[s] as string) };
  const text = evidenceText(c, s);
  const m = /expected values?\(s\)\s*-\s*([\s\S]*?)\s*\|\s*current values?\(s\)\s*-\s*([\s\S]*)$/i.exec(text);
  if (!m) return { expected: null, actual: trimmed(text) };
  return { expected: trimmed(m[1] ?? null), actual: trimmed(m[2] ?? null) };
}

export interface ExpectedOptions {
  /** the report's byte length when already known (else one generation pass computes it) */
  bytes?: number;
}

export function* expectedRecords(spec: ReportSpec, opts: ExpectedOptions = {}): Generator<ReportRecord> {
  const model = new ReportModel(spec);
  const v = spec.variants;
  const counts = countResults(model);
  const header: HeaderRecord = {
    type: 'header',
    root: v.root,
    title: trimmed(spec.title),
    generatedAt: spec.generatedAt,
    company: trimmed(spec.company),
    userName: trimmed(spec.userName),
    userLogin: trimmed(spec.userLogin),
    declared: {
      totalHosts: counts.hosts,
      totalControls: counts.controls,
      totalControlInstances: counts.results,
      passed: counts.passed,
      failed: counts.failed,
      error: counts.error,
    },
  };
  yield header;
  for (const pol of model.policies) {
    const rec: PolicyRecord = { type: 'policy', policyId: pol.id, policyTitle: pol.title };
    yield rec;
  }
  let hosts = 0;
  let findings = 0;
  const tally = [0, 0, 0];
  const hostIdGiven = v.hostIdElement !== 'none';
  const opt = v.optionalFields;
  const ev = model.controls.map((c) => [evidence(spec, c, PASSED), evidence(spec, c, FAILED), evidence(spec, c, ERROR)]);
  for (let h = 0; h < spec.size.hosts; h++) {
    if (model.hostDropped(h)) continue;
    const host: HostDef = model.host(h);
    const qualysHostId = hostIdGiven ? host.qualysHostId : null;
    const hk = hostKey({ qualysHostId, ip: host.ip }) as string;
    for (const pol of model.policies) {
      const hr: HostRecord = {
        type: 'host',
        hostKey: hk,
        policyId: pol.id,
        ip: host.ip,
        qualysHostId,
        hostname: host.dns ?? host.netbios,
        dns: host.dns,
        netbios: host.netbios,
        os: host.os,
        trackingMethod: host.trackingMethod,
        lastScanDate: host.lastScanDate,
        tags: [...new Set(host.tags.map((t) => t.trim()))],
      };
      hosts++;
      yield hr;
      for (const c of model.controls) {
        for (let k = 0; k < c.insts.length; k++) {
          const r = model.result(pol.index, h, c.index, k);
          if (r < 0) continue;
          const s = r & 3;
          tally[s]!++;
          findings++;
          const inst = c.insts[k]!;
          const testStatus = STATUS_TITLE[s] as TestStatus;
          const e = ev[c.index]![s]!;
          const value = c.criticalityValue;
          const fr: FindingRecord = {
            type: 'finding',
            findingKey: findingKey({ hostKey: hk, policyId: pol.id, controlId: c.cid, technology: inst.techName, instance: inst.instance }),
            hostKey: hk,
            ip: host.ip,
            qualysHostId,
            policyId: pol.id,
            policyTitle: pol.title,
            controlId: c.cid,
            statement: trimmed(c.statement),
            technology: inst.techName,
            technologyId: v.technology === 'text' ? null : inst.techId,
            instance: inst.instance,
            testStatus,
            status: statusFromTestStatus(testStatus),
            severity: severityFromCriticality(value),
            criticalityLabel: c.criticalityLabel ?? (value === null ? 'Unknown' : (DEFAULT_CRITICALITY_LABELS[value] ?? 'Unknown')),
            criticalityValue: value,
            expected: e.expected,
            actual: e.actual,
            rationale: trimmed(c.rationale),
            remediation: trimmed(c.remediation),
            evaluationDate: host.evaluationDate,
            previousStatus: opt && r & R_PREV ? (s === PASSED ? 'Failed' : 'Passed') : null,
            firstFailDate: opt && s === FAILED ? host.firstFailDate : null,
            lastFailDate: opt && s === FAILED ? host.lastFailDate : null,
            firstPassDate: opt && s === PASSED ? host.firstPassDate : null,
            lastPassDate: opt && s === PASSED ? host.lastPassDate : null,
            causeOfFailure: opt && s === FAILED ? trimmed(c.causeOfFailure) : null,
            controlReferences: opt ? trimmed(c.references) : null,
            deprecated: null,
            exception: opt && s === FAILED && r & R_EXC ? { ...c.exception } : null,
          };
          yield fr;
        }
      }
    }
  }
  // the broken elements written on purpose (variants.rejectSamples); `message` is free text, not ground truth
  const rejected = rejectSamples(spec);
  for (const r of rejected) {
    const rec: RejectedRecord = { type: 'rejected', ...r, message: `${r.reason} at line ${r.line}` };
    yield rec;
  }
  const summary: SummaryRecord = {
    type: 'summary',
    hosts,
    findings,
    passed: tally[PASSED]!,
    failed: tally[FAILED]!,
    error: tally[ERROR]!,
    rejected: rejected.length,
    policies: model.policies.length,
    bytes: opts.bytes ?? reportByteLength(spec),
    invalidUtf8: 0,
  };
  yield summary;
}
