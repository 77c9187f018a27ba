/**
 * The database watch of an app (workers, scheduler, API): finds a MongoDB client that stays unusable after
 * the database came back, and reopens it.
 *
 * Why: the driver's monitor checks the server every heartbeat (10 s) and makes it selectable again once it
 * answers. Measured with the driver 7.9 behind a TCP proxy that accepts connections and closes them at once
 * (a database taken away by the network, not stopped): in 3 of 3 such outages of 5-30 s under load, the
 * monitor's check started and never ended. Its connection was closed underneath it, and the driver waits for
 * the socket's 'drain' (or 'error') with no timeout, which a destroyed socket never emits. The server then
 * stays "unknown" for good: every operation fails server selection with the same stale error, minutes after
 * the database answers everyone else again, and no job retry can help. Closing the client and connecting it
 * again (the same object: the store's collections keep working) recovered every time, within 2 s.
 *
 * So, every `intervalMs`, the watch pings through the app's client. When the pings have failed for
 * `wedgedAfterMs`, it pings through a fresh client of the same URL: if that one answers, the app's client is
 * wedged, and the watch logs what the client's monitor last did and reopens the client (operations in
 * flight fail with a closed-topology error, which their jobs retry). If the fresh client fails too, the
 * database is down for everyone: nothing to do but wait, and the watch says so once.
 */
import { MongoClient } from 'mongodb';
import type { Logger } from './logger.ts';

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
  /** how long one ping may take (default: the smaller of intervalMs and 10 s) */
  pingTimeoutMS?: number;
  /** what a wedged client gets (default: close it and connect it again) */
  reopen?: (client: MongoClient) => Promise<void>;
}

/** The watch's periods from the configuration (QPC_DB_WATCH_MS, QPC_DB_WEDGED_AFTER_MS); null: no watch. */
export function dbWatchSettings(config: { QPC_DB_WATCH_MS: number; QPC_DB_WEDGED_AFTER_MS: number }): { intervalMs: number; wedgedAfterMs: number } | null {
  return config.QPC_DB_WATCH_MS > 0 ? { intervalMs: config.QPC_DB_WATCH_MS, wedgedAfterMs: config.QPC_DB_WEDGED_AFTER_MS } : null;
}

export interface DbWatch {
  stop(): void;
  /** failing since (ms epoch), or null while the pings answer */
  failingSince(): number | null;
  /** how many times the client was found wedged and reopened */
  reopened(): number;
}

interface HeartbeatSeen {
  event: 'started' | 'succeeded' | 'failed';
  at: number;
}

const HEARTBEAT_EVENTS = {
  serverHeartbeatStarted: 'started',
  serverHeartbeatSucceeded: 'succeeded',
  serverHeartbeatFailed: 'failed',
} as const;

async function ping(client: MongoClient, timeoutMS: number): Promise<void> {
  await client.db('admin').command({ ping: 1 }, { timeoutMS });
}

async function closeAndConnect(client: MongoClient): Promise<void> {
  await client.close();
  await client.connect();
}

/** Does a new client of this URL reach the database? */
async function freshAnswers(url: string, timeoutMS: number): Promise<boolean> {
  const fresh = new MongoClient(url, { serverSelectionTimeoutMS: timeoutMS, connectTimeoutMS: timeoutMS });
  try {
    await ping(fresh, timeoutMS);
    return true;
  } catch {
    return false;
  } finally {
    await fresh.close().catch(() => undefined);
  }
}

export function watchDatabase(o: DbWatchOptions): DbWatch {
  const timeoutMS = o.pingTimeoutMS ?? Math.min(o.intervalMs, 10_000);
  const reopen = o.reopen ?? closeAndConnect;
  let lastHeartbeat: HeartbeatSeen | null = null;
  let failingSince: number | null = null;
  let lastError = '';
  let saidDown = false;
  let stopped = false;
  let busy = false;
  let reopened = 0;

  const listeners = Object.entries(HEARTBEAT_EVENTS).map(([name, event]) => {
    const fn = () => {
      lastHeartbeat = { event, at: Date.now() };
    };
    o.client.on(name as keyof typeof HEARTBEAT_EVENTS, fn);
    return [name as keyof typeof HEARTBEAT_EVENTS, fn] as const;
  });

  const onFailure = async () => {
    if (failingSince === null || Date.now() - failingSince < o.wedgedAfterMs) return;
    const othersReachIt = await freshAnswers(o.url, timeoutMS);
    if (stopped) return;
    const hb = lastHeartbeat as HeartbeatSeen | null;
    const detail = {
      failingForS: Math.round((Date.now() - failingSince) / 1000),
      lastError,
      // a heartbeat 'started' long ago and never ended is the monitor's hung check
      lastHeartbeat: hb ? { event: hb.event, agoS: Math.round((Date.now() - hb.at) / 1000) } : null,
    };
    if (!othersReachIt) {
      if (!saidDown) o.logger.warn(detail, 'database unreachable; jobs retry with backoff until it returns');
      saidDown = true;
      return;
    }
    o.logger.error(detail, 'database client wedged: the database answers a new connection but not this client; reopening it');
    await reopen(o.client);
    reopened += 1;
    // measured again from the reopen: the next reopen needs another wedgedAfterMs of failures
    failingSince = Date.now();
  };

  const tick = async () => {
    if (busy || stopped) return;
    busy = true;
    try {
      await ping(o.client, timeoutMS);
      if (failingSince !== null) o.logger.info({ failedForS: Math.round((Date.now() - failingSince) / 1000) }, 'database client answers again');
      failingSince = null;
      saidDown = false;
    } catch (err) {
      lastError = (err as Error).message;
      failingSince ??= Date.now();
      await onFailure().catch((e: unknown) => o.logger.warn({ err: { message: (e as Error).message } }, 'database watch: reopening the client failed'));
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
      for (const [name, fn] of listeners) o.client.off(name, fn);
    },
    failingSince: () => failingSince,
    reopened: () => reopened,
  };
}
