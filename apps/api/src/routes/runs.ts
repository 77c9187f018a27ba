/** Sync history: runs newest first, filtered by connector, state and date; one run; on-demand sync. */
import { z } from 'zod';
import type { Document, Filter } from 'mongodb';
import { ApiError, notFound } from '../errors.ts';
import { pageOf, type SortKey } from '../paging.ts';
import type { ServerDeps } from '../server.ts';
import { idParams } from './connector-schemas.ts';
import { findConnector } from './connectors.ts';
import type { RouteTable } from './registry.ts';
import { pageQuery } from './common.ts';
import { requestSync } from './sync.ts';
import { DEFAULT_STUCK_AFTER_MS, findStuckRuns } from '@qpc/store/pipeline';
import { stageJobsOf } from '../stage-jobs.ts';
import { runView } from './run-view.ts';
import { retryRun, runJobs } from './run-jobs.ts';

export { runView };

export const RUN_STATES = [
  'queued', 'fetching', 'parsing', 'writing', 'finalizing', 'succeeded', 'no-new-report', 'partial', 'failed',
] as const;

const NEWEST: SortKey = { field: 'createdAt', dir: -1 };

const isoDate = z.iso.datetime({ offset: true }).or(z.iso.date()).transform((v) => new Date(v));

export const runsQuery = pageQuery.extend({
  state: z.enum(RUN_STATES).optional(),
  /** runs created at or after this instant (ISO 8601) */
  from: isoDate.optional(),
  /** runs created before this instant (ISO 8601) */
  to: isoDate.optional(),
});

export function runsFilter(q: z.output<typeof runsQuery>, connectorId?: string): Filter<Document> {
  const created: Record<string, Date> = {};
  if (q.from) created.$gte = q.from;
  if (q.to) created.$lt = q.to;
  return {
    ...(connectorId ? { connectorId } : {}),
    ...(q.state ? { state: q.state } : {}),
    ...(Object.keys(created).length ? { createdAt: created } : {}),
  };
}

const listRuns = (deps: ServerDeps, q: z.output<typeof runsQuery>, connectorId?: string) =>
  pageOf(deps.store.col.runs, NEWEST, q, runView, runsFilter(q, connectorId));

export function runRoutes(table: RouteTable, deps: ServerDeps) {
  const findRun = async (id: string) => {
    const d = await deps.store.col.runs.findOne({ _id: id });
    if (!d) throw notFound('run', id);
    return d;
  };
  table.add({
    method: 'get',
    path: '/api/connectors/:id/runs',
    tag: 'runs',
    summary: "A connector's sync history, newest first (filter by state and date)",
    role: 'viewer',
    params: idParams,
    query: runsQuery,
    responses: { 404: 'no such connector' },
    handle: async ({ params, query }) => {
      await findConnector(deps, params.id);
      return listRuns(deps, query, params.id);
    },
  });
  table.add({
    method: 'get',
    path: '/api/runs',
    tag: 'runs',
    summary: 'Sync history of every connector, newest first (filter by connector, state and date)',
    role: 'viewer',
    query: runsQuery.extend({ connectorId: z.string().min(1).max(200).optional() }),
    handle: ({ query }) => listRuns(deps, query, query.connectorId),
  });
  table.add({
    method: 'get',
    path: '/api/stuck-runs',
    tag: 'runs',
    summary:
      'Runs that stopped advancing: in progress, not updated for QPC_STUCK_AFTER_MS, and no job of theirs waiting or active (the scheduler resumes or fails them)',
    role: 'viewer',
    handle: async () => {
      const stuck = await findStuckRuns(deps.store, stageJobsOf(deps), deps.stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS);
      return { items: stuck.map((s) => ({ ...runView(s.run), neededJobs: s.jobs })) };
    },
  });
  table.add({
    method: 'get',
    path: '/api/runs/:id',
    tag: 'runs',
    summary: 'One run: state, progress, stage timings, counts, Qualys calls and waits, errors, and its jobs (links into Bull Board)',
    role: 'viewer',
    params: idParams,
    responses: { 404: 'no such run' },
    handle: async ({ params }) => {
      const d = await findRun(params.id);
      return { ...runView(d), jobs: (await runJobs(deps, d)).map((j) => j.view) };
    },
  });
  table.add({
    method: 'post',
    path: '/api/runs/:id/retry',
    tag: 'runs',
    summary:
      "Retry a failed or partial run: its failed jobs back in their queues (as Bull Board's Retry, action retried-jobs); when none can be " +
      'retried (none left, a later run has written since, another sync is running) a sync of the connector is started or joined instead ' +
      '(action started-sync or joined-sync, message says why)',
    role: 'admin',
    params: idParams,
    status: 202,
    responses: { 404: 'no such run', 409: 'RUN_NOT_RETRYABLE (not failed or partial), CONNECTOR_GONE or CONNECTOR_DELETING' },
    handle: async ({ params }) => retryRun(deps, await findRun(params.id)),
  });
  table.add({
    method: 'post',
    path: '/api/connectors/:id/sync',
    tag: 'runs',
    summary:
      'Sync now (202): starts a sync, or answers the one already queued or running (joined: true). A reingest request ' +
      'that joins a sync which does not re-ingest is ignored, not queued: reingestIgnored says so; retry when it ends',
    role: 'admin',
    params: idParams,
    body: z.strictObject({ reingest: z.boolean().default(false) }).default({ reingest: false }),
    status: 202,
    responses: { 404: 'no such connector', 409: 'the connector is being deleted' },
    handle: async ({ params, body }) => {
      const connector = await findConnector(deps, params.id);
      if (connector.deleting) throw new ApiError(409, 'CONNECTOR_DELETING', 'this connector is being deleted: repeat the DELETE to finish it');
      return requestSync(deps, connector, { reingest: body.reingest });
    },
  });
}
