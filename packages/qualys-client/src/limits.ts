import type { IncomingHttpHeaders } from 'node:http';

/** The limit headers Qualys puts on every answer (absent ones stay undefined). */
export interface LimitHeaders {
  rateLimit?: number;
  rateWindowSec?: number;
  rateRemaining?: number;
  toWaitSec?: number;
  concurrencyLimit?: number;
  concurrencyRunning?: number;
}

type Headers = IncomingHttpHeaders | Record<string, string | string[] | undefined>;

function num(headers: Headers, name: string): number | undefined {
  const raw = headers[name];
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export function readLimitHeaders(headers: Headers): LimitHeaders {
  const out: LimitHeaders = {};
  const set = (k: keyof LimitHeaders, h: string) => {
    const n = num(headers, h);
    if (n !== undefined) out[k] = n;
  };
  set('rateLimit', 'x-ratelimit-limit');
  set('rateWindowSec', 'x-ratelimit-window-sec');
  set('rateRemaining', 'x-ratelimit-remaining');
  set('toWaitSec', 'x-ratelimit-towait-sec');
  set('concurrencyLimit', 'x-concurrency-limit-limit');
  set('concurrencyRunning', 'x-concurrency-limit-running');
  return out;
}

/** Exponential backoff with full jitter: a random wait in [base/2, min(max, base * 2^attempt)]. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const floor = Math.min(ceiling, baseMs / 2);
  return Math.round(floor + Math.random() * (ceiling - floor));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
