/**
 * The database watch of a worker app: finds a MongoDB client that stays unusable after the database came
 * back, and says so instead of failing every job for good.
 *
 * The driver's monitor checks the server every heartbeat (10 s) and makes it selectable again once it
 * answers. A client whose server stays "unknown" while the database answers a fresh connection is wedged:
 * every operation fails server selection and no retry of ours can help. It was seen once, in the fault
 * suite's 30 s outage: a parse worker failed server selection with the same stale error for more than five
 * minutes after the database returned, while every other app had recovered within seconds.
 *
 * So, every `intervalMs`, the watch pings through the app's client. When the pings have failed for
 * `wedgedAfterMs`, it pings through a fresh client of the same URL: if that one answers, the app's client is
 * wedged, and the watch logs what the client's monitor last did and calls `onWedged` (the worker app shuts
 * down and exits with EXIT_RESTART, for its supervisor to start it again). If the fresh client fails too,
 * the database is down: nothing to do but wait, and the watch says so once.
 */
import { MongoClient } from 'mongodb';
import type { Logger } from './logger.ts';

/** the exit code of an app that asks its supervisor to start it again (EX_TEMPFAIL) */
export const EXIT_RESTART = 75;

export interface DbWatchOptions {
  /** the app's client */
  client: MongoClient;
  /** the URL the client was made from (a fresh client tells a wedged client from a database that is down) */
  url: string;
  logger: Logger;
  /** ping period */
  intervalMs: number;
  /** how long pings may fail before the fresh client is tried */
  wedgedAfterMs: number;
  onWedged: (reason: string) => void;
  /** how long one ping may take (default: the smaller of intervalMs and 10 s) */
  pingTimeoutMS?: number;
}

export interface DbWatch {
  stop(): void;
  /** failing since (ms epoch), or null while the pings answer */
  failingSince(): number | null;
}

interface HeartbeatSeen {
  event: 'started' | 'succeeded' | 'failed';
  at: number;
}

async function ping(client: MongoClient, timeoutMS: number): Promise<void> {
  await client.db('admin').command({ ping: 1 }, { timeoutMS });
}

export function watchDatabase(o: DbWatchOptions): DbWatch {
  const timeoutMS = o.pingTimeoutMS ?? Math.min(o.intervalMs, 10_000);
  let lastHeartbeat: HeartbeatSeen | null = null;
  let heartbeatsSinceFailure = 0;
  const seen = (event: HeartbeatSeen['event']) => () => {
    lastHeartbeat = { event, at: Date.now() };
    if (failingSince !== null) heartbeatsSinceFailure += 1;
  };
  const listeners = {
    serverHeartbeatStarted: seen('started'),
    serverHeartbeatSucceeded: seen('succeeded'),
    serverHeartbeatFailed: seen('failed'),
  } as const;
  for (const [event, fn] of Object.entries(listeners)) o.client.on(event as keyof typeof listeners, fn);

  let failingSince: number | null = null;
  let lastError = '';
  let saidDown = false;
  let stopped = false;
  let busy = false;

  const tick = async () => {
    if (busy || stopped) return;
    busy = true;
    try {
      await ping(o.client, timeoutMS);
      if (failingSince !== null) o.logger.info({ downForS: Math.round((Date.now() - failingSince) / 1000) }, 'database reachable again');
      failingSince = null;
      saidDown = false;
      heartbeatsSinceFailure = 0;
    } catch (err) {
      lastError = (err as Error).message;
      failingSince ??= Date.now();
      if (Date.now() - failingSince < o.wedgedAfterMs || stopped) return;
      const fresh = new MongoClient(o.url, { serverSelectionTimeoutMS: timeoutMS, connectTimeoutMS: timeoutMS });
      let freshAnswers = false;
      try {
        await ping(fresh, timeoutMS);
        freshAnswers = true;
      } catch {
        // the database itself is unreachable
      } finally {
        await fresh.close().catch(() => undefined);
      }
      if (stopped) return;
      const hb = lastHeartbeat as HeartbeatSeen | null;
      const detail = {
        failingForS: Math.round((Date.now() - failingSince) / 1000),
        lastError,
        lastHeartbeat: hb ? { event: hb.event, agoS: Math.round((Date.now() - hb.at) / 1000) } : null,
        heartbeatsSinceFailure,
      };
      if (freshAnswers) {
        stopped = true;
        o.logger.error(detail, 'database client wedged: the database answers a new connection but not this client; restarting the app');
        o.onWedged('database client wedged');
      } else if (!saidDown) {
        saidDown = true;
        o.logger.warn(detail, 'database unreachable; jobs retry with backoff until it returns');
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), o.intervalMs);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      for (const [event, fn] of Object.entries(listeners)) o.client.off(event as keyof typeof listeners, fn);
    },
    failingSince: () => failingSince,
  };
}
