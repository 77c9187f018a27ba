/**
 * Sync planning for a connector whose source is the Compliance Posture API: list the policies the user
 * can see (ID, TITLE, LAST_EVALUATED), choose the ones to pull (the connector's, else every visible one),
 * decide full or incremental from the connector's succeeded posture pulls (planPull), and create ONE
 * run that pulls them, in groups of at most 10 policies, each group paged by the answer's WARNING.
 * Idempotent as report planning: the run id derives from the sync id.
 */
import { DEFAULT_POSTURE, planPull, posturePolicyIds, type PostureHistory } from '@qpc/domain';
import type { PolicyInfo } from '@qpc/qualys-client';
import { StoreError, type ConnectorDoc, type RunTrigger } from '@qpc/store/db';
import { connectorCredentials } from '@qpc/store/connectors';
import { addQualysStats, createRun, setLockRuns, succeededPosturePulls } from '@qpc/store/pipeline';
import type { SyncDeps, SyncResult } from './sync.service.ts';
import { runIdFor } from './run-id.ts';

/** The connector's posture history as planPull reads it. */
export async function postureHistory(deps: Pick<SyncDeps, 'store'>, connectorId: string, policyIds: readonly string[]): Promise<PostureHistory> {
  const pulls = await succeededPosturePulls(deps.store, connectorId);
  let incrementalSinceFull = 0;
  let fullCovers = false;
  for (const p of pulls) {
    if (p.kind === 'full') {
      const had = new Set(p.policyIds);
      fullCovers = policyIds.every((id) => had.has(id));
      break;
    }
    incrementalSinceFull++;
  }
  return { lastSuccessStart: pulls[0]?.createdAt ?? null, incrementalSinceFull, fullCovers };
}

export async function planPostureSync(
  deps: SyncDeps,
  connector: ConnectorDoc,
  syncId: string,
  req: { trigger: RunTrigger; reingest: boolean },
  now: Date,
): Promise<SyncResult> {
  const { store } = deps;
  const settings = connector.posture ?? DEFAULT_POSTURE;
  const client = deps.qualys(connectorCredentials(connector, deps.box));
  let policies: PolicyInfo[];
  let stats = { calls: 0, conflicts409: 0, waitedSec: 0 };
  try {
    policies = await client.listPolicies();
  } finally {
    const s = client.stats();
    stats = { calls: s.calls, conflicts409: s.conflicts409, waitedSec: s.waitedSec + s.slotWaitSec };
    await client.close();
  }
  const visible = new Set(policies.map((p) => p.id));
  const missing = (settings.policyIds ?? []).filter((id) => !visible.has(id));
  if (missing.length > 0)
    throw new StoreError(
      'POSTURE_POLICY_NOT_VISIBLE',
      `the connector names policies this Qualys user cannot see: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', ...' : ''}; fix the policy ids (Test Credentials lists the visible ones)`,
      false,
    );
  const ids = posturePolicyIds(settings, [...visible]);
  if (ids.length === 0) throw new StoreError('POSTURE_NO_POLICY', 'this Qualys user can see no compliance policy: there is no posture to pull', false);
  const titles: Record<string, string> = {};
  for (const p of policies) if (ids.includes(p.id)) titles[p.id] = p.title;
  const plan = planPull(await postureHistory(deps, connector._id, ids), settings, { forceFull: req.reingest });
  const runId = runIdFor(syncId, 'posture');
  await createRun(
    store,
    {
      _id: runId,
      connectorId: connector._id,
      syncId,
      trigger: req.trigger,
      network: connector.network,
      index: 0,
      report: null,
      state: 'queued',
      posture: {
        kind: plan.kind,
        since: plan.since,
        reason: plan.reason,
        apiVersion: settings.apiVersion,
        policyIds: ids,
        titles,
        pages: [],
        next: { group: 0, idMin: null },
        complete: true,
      },
    },
    now,
  );
  await addQualysStats(store, runId, stats);
  await setLockRuns(store, connector._id, syncId, [runId]);
  await deps.enqueue.fetch(runId, connector._id);
  deps.logger.info({ connectorId: connector._id, syncId, policies: ids.length, kind: plan.kind }, 'posture sync planned');
  return { outcome: 'planned', syncId, runIds: [runId] };
}
