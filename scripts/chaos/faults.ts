/**
 * The fault rows: each injects one fault into a sync on the running stack, waits for recovery, and checks
 * the connector's network against the generator's ground truth.
 */
import { schedulerId } from '@qpc/jobs';
import type { RunDoc } from '@qpc/store/db';
import type { TcpProxy } from '@qpc/testing';
import { sleep, type Server } from './servers.ts';
import type { Check, Stack } from './stack.ts';

export interface Row extends Check {
  fault: string;
  recoverS: number;
  ok: boolean;
  note: string;
}

export interface Ctx {
  stack: Stack;
  ferret: Server;
  redis: Server;
  proxy: TcpProxy;
  reportId: string;
  recoverMs: number;
}

const RECOVERED = (c: Check, note = '') => ({
  ok: c.lost === 0 && c.duplicated === 0 && c.wronglyClosed === 0 && c.wronglyOpen === 0 && c.stuck === 0 && Object.keys(c.states).length === 1 && (c.states.succeeded ?? 0) >= 1,
  note,
});

async function run(ctx: Ctx, syncId: string): Promise<RunDoc | null> {
  try {
    return await ctx.stack.store.col.runs.findOne({ syncId });
  } catch {
    return null;
  }
}

/** The run with how many of its batches are staged and written. */
type Point = (r: RunDoc, staged: number, written: number) => boolean;

/** Polls the sync's run until `point` holds (or the run ended: the point was passed, noted). */
async function at(ctx: Ctx, syncId: string, point: Point, timeoutMs = 120_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  const batches = ctx.stack.store.col.batches;
  while (Date.now() < end) {
    const r = await run(ctx, syncId);
    const staged = r ? await batches.countDocuments({ runId: r._id }) : 0;
    const written = r && staged ? await batches.countDocuments({ runId: r._id, done: { $ne: null } }) : 0;
    if (r && point(r, staged, written)) return '';
    if (r && ['succeeded', 'failed', 'partial', 'no-new-report'].includes(r.state)) return `point passed (run ${r.state})`;
    await sleep(150);
  }
  return 'point not reached';
}

/** Waits for the sync's end from t0 (the fault), then checks. */
async function finish(ctx: Ctx, fault: string, connectorId: string, network: string, syncIds: string[], t0: number, note: string, clean = true): Promise<Row> {
  await ctx.stack.waitSync(syncIds[syncIds.length - 1]!, ctx.recoverMs);
  const recoverS = Math.round((Date.now() - t0) / 100) / 10;
  const c = await ctx.stack.check(connectorId, network, syncIds.slice(-1));
  if (clean) await ctx.stack.clean(network);
  // apps whose database client was found wedged and reopened (db-watch) during the row
  const reopened = ctx.stack.reopened.splice(0);
  const notes = [note, reopened.length ? `database client reopened: ${reopened.join(', ')}` : ''].filter(Boolean).join('; ');
  return { fault, recoverS, ...c, ...RECOVERED(c, notes) };
}

export type WorkerKind = 'worker-fetch' | 'worker-parse' | 'worker-upsert';
// [label, point, wait after it (ms)]; batches of 50 findings (QPC_BATCH_SIZE in chaos.ts)
const POINTS: Record<WorkerKind, [string, Point, number?][]> = {
  'worker-fetch': [
    ['download starts', (r) => r.state === 'fetching'],
    ['mid-download', (r) => r.state === 'fetching', 2000],
    ['handed to parse', (r) => r.state === 'parsing'],
  ],
  'worker-parse': [
    ['parse starts', (r) => r.state === 'parsing'],
    ['first batch staged', (_r, staged) => staged >= 1],
    ['3 batches staged', (_r, staged) => staged >= 3],
  ],
  'worker-upsert': [
    ['first batch written', (_r, _s, written) => written >= 1],
    ['4 batches written', (_r, _s, written) => written >= 4],
    ['finalizing', (r) => r.state === 'finalizing'],
  ],
};

/** SIGKILL of one worker kind at each of its 3 points of a first sync, then at the same point of a re-sync. */
export async function killRows(ctx: Ctx, kind: WorkerKind): Promise<Row[]> {
  const rows: Row[] = [];
  const { stack } = ctx;
  for (const [i, [label, point, after]] of POINTS[kind].entries()) {
    const network = `kill-${kind}-${i}`;
    const connectorId = await stack.connector(network);
    for (const phase of ['first sync', 're-sync'] as const) {
      // the download held back so that fetch is killed in it
      if (kind === 'worker-fetch' && i < 2) stack.sim.setFaults({ latencyMs: 4000 }, ctx.reportId);
      const syncId = await stack.requestSync(connectorId, phase === 're-sync');
      const note = await at(ctx, syncId, point);
      if (after) await sleep(after);
      const t0 = Date.now();
      await stack.kill(`${kind}#1`);
      stack.sim.setFaults(null, ctx.reportId);
      await stack.start(`${kind}#1`);
      rows.push(await finish(ctx, `SIGKILL ${kind.slice(7)} @ ${label} (${phase})`, connectorId, network, [syncId], t0, note, phase === 're-sync'));
    }
  }
  return rows;
}

export async function simRestart(ctx: Ctx): Promise<Row> {
  const { stack } = ctx;
  const network = 'sim-restart';
  const connectorId = await stack.connector(network);
  stack.sim.setFaults({ latencyMs: 3000 }, ctx.reportId);
  const syncId = await stack.requestSync(connectorId);
  const note = await at(ctx, syncId, (r) => r.state === 'fetching');
  await sleep(1000);
  const t0 = Date.now();
  await stack.restartSim(5000);
  return finish(ctx, 'Qualys side killed mid-download, back after 5 s', connectorId, network, [syncId], t0, note);
}

export async function ferretRestart(ctx: Ctx): Promise<Row> {
  const { stack } = ctx;
  const network = 'db-restart';
  const connectorId = await stack.connector(network);
  const syncId = await stack.requestSync(connectorId);
  const note = await at(ctx, syncId, (_r, _s, written) => written >= 2);
  const t0 = Date.now();
  await ctx.ferret.restart(2000);
  return finish(ctx, 'database server SIGKILLed mid-write, restarted', connectorId, network, [syncId], t0, note);
}

export async function dbOutage(ctx: Ctx): Promise<Row> {
  const { stack } = ctx;
  const network = 'db-outage';
  const connectorId = await stack.connector(network);
  const syncId = await stack.requestSync(connectorId);
  const note = await at(ctx, syncId, (_r, staged) => staged >= 2);
  ctx.proxy.cut();
  await sleep(30_000);
  ctx.proxy.restore();
  const t0 = Date.now();
  return finish(ctx, 'database unreachable 30 s (TCP proxy)', connectorId, network, [syncId], t0, note);
}

export async function redisRestart(ctx: Ctx): Promise<Row> {
  const { stack } = ctx;
  const network = 'redis-restart';
  const connectorId = await stack.connector(network);
  const syncId = await stack.requestSync(connectorId);
  const note = await at(ctx, syncId, (_r, _s, written) => written >= 1);
  const t0 = Date.now();
  await ctx.redis.restart(2000);
  return finish(ctx, 'Redis SIGKILLed mid-run, restarted (AOF)', connectorId, network, [syncId], t0, note);
}

export async function storm409(ctx: Ctx): Promise<Row> {
  const { stack } = ctx;
  const network = 'storm-409';
  const connectorId = await stack.connector(network);
  stack.sim.setFaults({ conflicts409: 12, toWaitSec: 1 });
  const t0 = Date.now();
  const syncId = await stack.requestSync(connectorId);
  const row = await finish(ctx, '409 storm (12 answers "concurrency limit")', connectorId, network, [syncId], t0, '');
  const answered = stack.sim.stats().conflicts409;
  stack.sim.setFaults(null);
  if (answered < 12) return { ...row, ok: false, note: `only ${answered} 409s answered` };
  return row;
}

async function api(ctx: Ctx, method: string, p: string): Promise<{ status: number; body: { error?: { code?: string } } }> {
  const res = await fetch(`${ctx.stack.apiUrl}${p}`, { method, headers: { authorization: `Bearer ${ctx.stack.apiToken}` } });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as { error?: { code?: string } }) : {} };
}

/** DELETE ?purge=true during a sync is refused (409 SYNC_RUNNING); after the sync a purge removes all. */
export async function purgeDuringSync(ctx: Ctx): Promise<Row> {
  const { stack } = ctx;
  const network = 'purge';
  const connectorId = await stack.connector(network);
  const syncId = await stack.requestSync(connectorId);
  const note = await at(ctx, syncId, (_r, _s, written) => written >= 1);
  const t0 = Date.now();
  const refused = await api(ctx, 'DELETE', `/api/connectors/${connectorId}?purge=true`);
  const row = await finish(ctx, 'purge during a sync, then after it', connectorId, network, [syncId], t0, note, false);
  const notes = [note];
  if (refused.status !== 409 || refused.body.error?.code !== 'SYNC_RUNNING') notes.push(`purge during the sync answered ${refused.status} ${refused.body.error?.code ?? ''}`);
  const purged = await api(ctx, 'DELETE', `/api/connectors/${connectorId}?purge=true`);
  if (purged.status >= 300) notes.push(`purge after the sync answered ${purged.status} ${purged.body.error?.code ?? ''}`);
  const left =
    (await stack.store.col.findings.countDocuments({ network })) +
    (await stack.store.col.runs.countDocuments({ connectorId })) +
    (await stack.store.col.connectors.countDocuments({ _id: connectorId }));
  if (left) notes.push(`${left} documents left after the purge`);
  const extra = notes.filter(Boolean);
  return { ...row, ok: row.ok && extra.length === (note ? 1 : 0), note: extra.join('; ') };
}

/** A connector with a cron BullMQ cannot parse (as an old version stored it) beside a good one. */
export async function badSchedule(ctx: Ctx): Promise<Row> {
  const { stack } = ctx;
  const bad = await stack.connector('schedule-bad');
  const good = await stack.connector('schedule-good');
  const col = stack.store.col.connectors;
  await col.updateOne({ _id: bad }, { $set: { schedule: { enabled: true, kind: 'cron', cron: '99 * * * *', timezone: 'UTC' } } });
  await col.updateOne({ _id: good }, { $set: { schedule: { enabled: true, kind: 'cron', cron: '0 3 * * *', timezone: 'UTC' } } });
  const t0 = Date.now();
  const q = stack.enqueuer.queue('sync');
  let scheduled = false;
  while (!scheduled && Date.now() - t0 < 60_000) {
    scheduled = (await q.getJobSchedulers(0, -1)).some((s) => s.key === schedulerId(good));
    if (!scheduled) await sleep(500);
  }
  // both off again: the other rows run on demand
  await col.updateMany({ _id: { $in: [bad, good] } }, { $set: { schedule: null } });
  const recoverS = Math.round((Date.now() - t0) / 100) / 10;
  return {
    fault: 'bad cron stored beside a good schedule', recoverS, states: {}, lost: 0, duplicated: 0, wronglyClosed: 0, wronglyOpen: 0,
    stuck: 0, ok: scheduled, note: scheduled ? '' : 'the good connector was not scheduled within 60 s',
  };
}
