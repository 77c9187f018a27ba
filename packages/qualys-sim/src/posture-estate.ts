/**
 * The compliance posture of the simulated subscription, from the same generator estate as its reports:
 * a policy's posture is the content of the latest Finished Policy report that evaluates it (by launch
 * time), and the date a row's status took its value comes from that report's `derivedFrom` chain (a
 * derived report is a later scan of the same estate). Rows are numbered so that `id_min` pages them.
 */
import { ReportModel } from './model.ts';
import type { Scenario, ScenarioReport } from './scenario.ts';

/** row ids: policy id * 2^32 + the row's ordinal in its report (host, control, instance) */
const POLICY_STRIDE = 2 ** 32;

export interface PostureSource {
  policyId: string;
  title: string;
  /** GENERATION_DATETIME of the report: when the policy was last evaluated */
  evaluatedAt: string;
  report: ScenarioReport;
  model: ReportModel;
  /** policy index in the report */
  p: number;
  /** ancestors, parent first, with their generation times */
  chain: Array<{ model: ReportModel; at: string }>;
}

export interface PostureRow {
  /** row id (a safe integer) */
  id: number;
  h: number;
  j: number;
  k: number;
  /** ReportModel.result bits */
  r: number;
  /** when the row's status took its current value */
  modified: string;
}

/** The latest Finished Policy report of each policy id, with its ancestors. */
export function postureSources(scenario: Scenario): Map<string, PostureSource> {
  const byId = new Map(scenario.reports.map((r) => [r.id, r]));
  const candidates = scenario.reports
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => r.type === 'Policy' && r.state === 'Finished')
    .sort((a, b) => Date.parse(a.r.launchedAt) - Date.parse(b.r.launchedAt) || a.i - b.i);
  // later launches replace earlier ones; models are built only for the winners
  const winners = new Map<string, { r: ScenarioReport; p: number }>();
  for (const { r } of candidates) for (let p = 0; p < r.size.policies; p++) winners.set(String(r.firstPolicyId + p), { r, p });
  const models = new Map<string, ReportModel>();
  const modelOf = (r: ScenarioReport): ReportModel => {
    let m = models.get(r.id);
    if (!m) models.set(r.id, (m = new ReportModel(r)));
    return m;
  };
  const out = new Map<string, PostureSource>();
  for (const [policyId, { r, p }] of winners) {
    const model = modelOf(r);
    const chain: PostureSource['chain'] = [];
    for (let a = r.derivedFrom ? byId.get(r.derivedFrom) : undefined; a; a = a.derivedFrom ? byId.get(a.derivedFrom) : undefined) {
      chain.push({ model: modelOf(a), at: a.generatedAt });
    }
    out.set(policyId, { policyId, title: model.policies[p]?.title ?? '', evaluatedAt: r.generatedAt, report: r, model, p, chain });
  }
  return out;
}

export function rowId(s: PostureSource, ordinal: number): number {
  return Number(s.policyId) * POLICY_STRIDE + ordinal;
}

/**
 * The rows of a policy in id order, from `idMin` on; with `since` (ms), only the rows whose status
 * changed at or after it.
 */
export function* postureRows(s: PostureSource, idMin: number, since: number | null): Generator<PostureRow> {
  const m = s.model;
  const nC = m.controls.length;
  const nI = m.maxInst;
  const perHost = nC * nI;
  if (perHost === 0) return;
  const base = rowId(s, 0);
  const start = Math.max(0, idMin - base);
  for (let h = Math.floor(start / perHost); h < m.spec.size.hosts; h++) {
    if (m.hostDropped(h)) continue;
    for (let j = 0; j < nC; j++) {
      const insts = m.controls[j]!.insts.length;
      for (let k = 0; k < insts; k++) {
        const ordinal = (h * nC + j) * nI + k;
        if (ordinal < start) continue;
        const r = m.result(s.p, h, j, k);
        if (r < 0) continue;
        const modified = modifiedAt(s, h, j, k, r & 3);
        if (since !== null && Date.parse(modified) < since) continue;
        yield { id: base + ordinal, h, j, k, r, modified };
      }
    }
  }
}

/** the generation time of the oldest report of the unbroken run, newest back, with this status */
function modifiedAt(s: PostureSource, h: number, j: number, k: number, status: number): string {
  let at = s.evaluatedAt;
  for (const a of s.chain) {
    if (a.model.hostDropped(h)) break;
    const r = a.model.result(s.p, h, j, k);
    if (r < 0 || (r & 3) !== status) break;
    at = a.at;
  }
  return at;
}

/** most rows a policy may have for its ids to stay distinct (and safe integers for policy ids below 2^21) */
export const MAX_ORDINAL = POLICY_STRIDE;
