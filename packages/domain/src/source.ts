/**
 * Where a connector reads its results (domain.md "Sources"): saved Policy Reports (`policy-report`, the
 * default) or the Compliance Posture Info API (`posture`). Both give the same hosts and findings with
 * the same keys, so a connector may move from one to the other. Pure rules: validation of the posture
 * settings, which pull comes next (full or incremental), and how policy ids are asked for.
 */

export type ConnectorSource = 'policy-report' | 'posture';
export const CONNECTOR_SOURCES: readonly ConnectorSource[] = ['policy-report', 'posture'];
export const DEFAULT_SOURCE: ConnectorSource = 'policy-report';

export type PostureApiVersion = '2.0' | '3.0';
export const POSTURE_API_VERSIONS: readonly PostureApiVersion[] = ['2.0', '3.0'];

export interface PostureSettings {
  /** the policies to pull; null: every policy the user can see */
  policyIds: string[] | null;
  /** the posture API's version (Qualys is moving the PC APIs to 3.0) */
  apiVersion: PostureApiVersion;
  /** a full pull at least every this many incremental pulls */
  fullEvery: number;
}

export const DEFAULT_POSTURE: PostureSettings = { policyIds: null, apiVersion: '2.0', fullEvery: 24 };
/** the posture API takes at most this many policy ids per call */
export const POSTURE_POLICIES_PER_CALL = 10;
/** most policy ids a connector may name */
export const MAX_POSTURE_POLICY_IDS = 1000;
export const MAX_FULL_EVERY = 1000;
/**
 * An incremental pull asks for the status changes since the last successful pull's start minus this
 * margin: a change Qualys records while that pull runs (or a clock skew) is read again, never missed.
 */
export const POSTURE_SAFETY_MARGIN_MS = 60 * 60 * 1000;

export class SourceError extends Error {
  readonly code = 'SOURCE_INVALID';
  constructor(
    message: string,
    /** the field, e.g. `posture.policyIds` */
    readonly field: string,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

/** Posture settings from partial input (defaults filled, ids trimmed, deduplicated, in given order); throws SourceError. */
export function normalizePosture(input: Partial<PostureSettings> | null | undefined): PostureSettings {
  const s = { ...DEFAULT_POSTURE, ...(input ?? {}) };
  let ids: string[] | null = null;
  if (s.policyIds != null) {
    if (!Array.isArray(s.policyIds)) throw new SourceError('must be a list of policy ids, or null for every policy the user can see', 'posture.policyIds');
    const seen = new Set<string>();
    ids = [];
    for (const raw of s.policyIds) {
      const id = String(raw).trim();
      if (!/^\d{1,19}$/.test(id)) throw new SourceError(`"${id.slice(0, 40)}" is not a policy id (digits only)`, 'posture.policyIds');
      if (!seen.has(id)) {
        seen.add(id);
        ids.push(id);
      }
    }
    if (ids.length === 0) throw new SourceError('must name at least one policy id, or be null for every policy the user can see', 'posture.policyIds');
    if (ids.length > MAX_POSTURE_POLICY_IDS) throw new SourceError(`at most ${MAX_POSTURE_POLICY_IDS} policy ids`, 'posture.policyIds');
  }
  if (!POSTURE_API_VERSIONS.includes(s.apiVersion)) throw new SourceError(`must be one of ${POSTURE_API_VERSIONS.join(', ')}`, 'posture.apiVersion');
  if (!Number.isInteger(s.fullEvery) || s.fullEvery < 1 || s.fullEvery > MAX_FULL_EVERY)
    throw new SourceError(`must be a whole number from 1 to ${MAX_FULL_EVERY}`, 'posture.fullEvery');
  return { policyIds: ids, apiVersion: s.apiVersion, fullEvery: s.fullEvery };
}

/** The policy ids a posture pull asks for: the configured ones, else every visible one; sorted numerically. */
export function posturePolicyIds(settings: PostureSettings, visible: readonly string[]): string[] {
  const ids = settings.policyIds ?? [...visible];
  return [...new Set(ids)].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
}

/** Policy ids in groups of at most POSTURE_POLICIES_PER_CALL (one paged request each). */
export function policyGroups(ids: readonly string[]): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < ids.length; i += POSTURE_POLICIES_PER_CALL) out.push(ids.slice(i, i + POSTURE_POLICIES_PER_CALL));
  return out;
}

export type PullKind = 'full' | 'incremental';

/** What the connector's posture history says (its succeeded posture pulls, newest first). */
export interface PostureHistory {
  /** start of the last succeeded posture pull of the connector, null when none */
  lastSuccessStart: Date | null;
  /** succeeded incremental pulls since the last succeeded full pull (all of them when there was none) */
  incrementalSinceFull: number;
  /** whether a full pull ever succeeded with the policy ids asked now (a new policy needs a full pull) */
  fullCovers: boolean;
}

export interface PullPlan {
  kind: PullKind;
  /** status_changes_since of an incremental pull */
  since: Date | null;
  reason: string;
}

/**
 * Full or incremental. A full pull when: none succeeded yet, the last full pull did not cover the
 * policies asked now, `fullEvery` incremental pulls have run since the last full one, or a full pull
 * is asked for (a re-ingest). Otherwise incremental since the last successful pull's start minus the
 * safety margin.
 */
export function planPull(h: PostureHistory, settings: Pick<PostureSettings, 'fullEvery'>, opts: { forceFull?: boolean } = {}): PullPlan {
  if (opts.forceFull) return { kind: 'full', since: null, reason: 'a full pull was asked for' };
  if (!h.lastSuccessStart || !h.fullCovers) return { kind: 'full', since: null, reason: 'no full pull of these policies has succeeded yet' };
  if (h.incrementalSinceFull >= settings.fullEvery)
    return { kind: 'full', since: null, reason: `${h.incrementalSinceFull} incremental pulls since the last full one (a full pull every ${settings.fullEvery})` };
  return {
    kind: 'incremental',
    since: new Date(h.lastSuccessStart.getTime() - POSTURE_SAFETY_MARGIN_MS),
    reason: `status changes since the last successful pull (${h.incrementalSinceFull + 1} of ${settings.fullEvery} before the next full pull)`,
  };
}

/** status_changes_since as the posture API takes it: UTC, seconds, no fraction */
export function qualysDateTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
