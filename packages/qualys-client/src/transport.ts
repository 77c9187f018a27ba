import type { LookupFunction } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { Budget, Lease } from './budget.ts';
import { envelopeError, htmlPageError, looksLikeHtml } from './envelopes.ts';
import { fromNetworkError, QualysError } from './errors.ts';
import { backoffMs, readLimitHeaders, sleep, type LimitHeaders } from './limits.ts';
import { parseXml, type XmlElement } from './xml.ts';

export interface LimitsOptions {
  /** concurrency assumed until the server announces X-Concurrency-Limit-Limit (Qualys's usual default is 2) */
  concurrency: number;
  /** cap on the announced concurrency (0 = none) */
  maxConcurrency: number;
  /** a lease of a dead process frees its slot after this long; live leases are renewed every third of it */
  leaseTtlMs: number;
  /** poll interval while every slot is taken (Redis budget) */
  pollMs: number;
  /** give up waiting for a slot after this long */
  acquireTimeoutMs: number;
  /** attempts of one call on 5xx, resets and timeouts (409s are counted apart) */
  maxAttempts: number;
  /** 409 answers met by one call before it gives up with QUALYS_RATE_LIMITED */
  max409: number;
  /** the longest single wait a 409 may impose before the call gives up instead (seconds) */
  max409WaitSec: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** resumes or restarts of one download that made no progress, before QUALYS_TRUNCATED */
  maxBodyRetries: number;
  /** the largest XML answer (lists, envelopes) read into memory */
  maxXmlBytes: number;
}

export interface TimeoutsOptions {
  connectMs: number;
  /** until the response headers arrive */
  headersMs: number;
  /** the longest silence between two body chunks */
  bodyMs: number;
}

export const DEFAULT_LIMITS: LimitsOptions = {
  concurrency: 2,
  maxConcurrency: 0,
  leaseTtlMs: 30_000,
  pollMs: 100,
  acquireTimeoutMs: 15 * 60_000,
  maxAttempts: 4,
  max409: 10,
  max409WaitSec: 900,
  backoffBaseMs: 1000,
  backoffMaxMs: 30_000,
  maxBodyRetries: 5,
  maxXmlBytes: 64 * 1024 * 1024,
};

export const DEFAULT_TIMEOUTS: TimeoutsOptions = { connectMs: 10_000, headersMs: 120_000, bodyMs: 120_000 };

export interface ClientStats {
  /** HTTP requests sent */
  calls: number;
  /** 409 answers met */
  conflicts409: number;
  /** retries after 5xx, resets, timeouts and Qualys internal errors */
  retries: number;
  /** downloads resumed with Range / restarted from byte 0 */
  resumes: number;
  restarts: number;
  /** seconds spent waiting on 409s, rate windows and backoff */
  waitedSec: number;
  /** seconds spent waiting for a free slot of the subscription budget */
  slotWaitSec: number;
  /** the limit headers of the last answer */
  lastLimits: LimitHeaders;
}

export interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  params: Record<string, string>;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

export interface Sent {
  res: Dispatcher.ResponseData;
  lease: Lease;
  limits: LimitHeaders;
}

/** A call's outcome decided by the caller of attempt(): done, or wait this long and try again. */
type Step<T> = { done: T } | { retryAfterMs: number; conflict?: boolean; error: QualysError };

/**
 * The HTTP side: one undici Pool per client, Basic auth and X-Requested-With on every call, no redirects,
 * explicit timeouts, the subscription budget around every call, and the retry policy. The Authorization
 * value lives in a private field and is only ever handed to undici.
 */
export class Transport {
  readonly #authorization: string;
  readonly pool: Pool;
  readonly origin: string;
  readonly basePath: string;
  readonly counters: ClientStats = {
    calls: 0,
    conflicts409: 0,
    retries: 0,
    resumes: 0,
    restarts: 0,
    waitedSec: 0,
    slotWaitSec: 0,
    lastLimits: {},
  };

  constructor(
    url: URL,
    username: string,
    password: string,
    readonly budget: Budget,
    readonly limits: LimitsOptions,
    readonly timeouts: TimeoutsOptions,
    readonly logger: Logger,
    /** the address policy's lookup: the socket connects only to addresses it checked */
    lookup?: LookupFunction,
  ) {
    this.#authorization = `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.pool = new Pool(this.origin, {
      connect: { timeout: timeouts.connectMs, ...(lookup ? { lookup } : {}) },
      headersTimeout: timeouts.headersMs,
      bodyTimeout: timeouts.bodyMs,
      connections: 32,
    });
  }

  /** Where a call goes, for messages: origin and path, never credentials. */
  where(path: string): string {
    return `${this.origin}${this.basePath}${path}`;
  }

  /** Wait for a slot, send one request, read its limit headers. The caller releases the lease. */
  async send(spec: RequestSpec): Promise<Sent> {
    const t0 = Date.now();
    let lease: Lease;
    try {
      lease = await this.budget.acquire(spec.signal);
    } catch (err) {
      if (err instanceof QualysError || spec.signal?.aborted) throw err;
      throw new QualysError('QUALYS_BUDGET_UNAVAILABLE', `the shared Qualys call budget is unavailable: ${(err as Error).message}`, { retryable: true, cause: err });
    }
    this.counters.slotWaitSec += (Date.now() - t0) / 1000;
    const query = new URLSearchParams(spec.params).toString();
    const isPost = spec.method === 'POST';
    const path = `${this.basePath}${spec.path}${!isPost && query ? `?${query}` : ''}`;
    const started = Date.now();
    this.counters.calls++;
    let res: Dispatcher.ResponseData;
    try {
      res = await this.pool.request({
        method: spec.method,
        path,
        headers: {
          'x-requested-with': 'qpc-connector',
          authorization: this.#authorization,
          accept: '*/*',
          ...(isPost ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
          ...spec.headers,
        },
        ...(isPost ? { body: query } : {}),
        signal: spec.signal ?? null,
      });
    } catch (err) {
      await lease.release();
      if (spec.signal?.aborted) throw spec.signal.reason;
      this.logger.debug({ method: spec.method, path: spec.path, action: spec.params.action, ms: Date.now() - started, err: (err as Error).message }, 'qualys call failed');
      throw fromNetworkError(err, this.where(spec.path));
    }
    const limits = readLimitHeaders(res.headers);
    this.counters.lastLimits = limits;
    this.logger.debug(
      { method: spec.method, path: spec.path, action: spec.params.action, status: res.statusCode, ms: Date.now() - started, limits },
      'qualys call',
    );
    try {
      if (limits.concurrencyLimit !== undefined && limits.concurrencyLimit > 0) await this.budget.learnLimit(limits.concurrencyLimit);
      // X-RateLimit-ToWait-Sec on any answer: nobody sharing the subscription calls before it has passed
      if (res.statusCode !== 409 && (limits.toWaitSec ?? 0) > 0) await this.budget.blockFor((limits.toWaitSec ?? 0) * 1000);
    } catch (err) {
      this.budgetWarning(err);
    }
    return { res, lease, limits };
  }

  private budgetWarning(err: unknown): void {
    this.logger.warn({ err: { message: (err as Error).message } }, 'qualys budget update failed');
  }

  /** The step for an answer that is an error whatever the call (3xx, 401, 409, 5xx, other 4xx). */
  errorStep(status: number, limits: LimitHeaders, body: string, what: string, headers: Dispatcher.ResponseData['headers']): Step<never> | undefined {
    if (status >= 300 && status < 400) {
      throw new QualysError(
        'QUALYS_REDIRECT',
        `${what} answered HTTP ${status} (a redirect${safeLocation(headers.location)}); redirects are never followed: is the URL the API server of the platform?`,
        { retryable: false, status },
      );
    }
    if (status === 429) {
      // not a Qualys answer, but a proxy in front of it may say the same thing this way
      const after = Number(headerText(headers['retry-after']));
      const error = new QualysError('QUALYS_RATE_LIMITED', `${what} answered HTTP 429`, { retryable: true, status });
      return { retryAfterMs: Number.isFinite(after) && after >= 0 ? after * 1000 : -1, conflict: true, error };
    }
    if (status === 409) {
      const root = safeParse(body);
      const err =
        (root && envelopeError(root, status, what)) ??
        new QualysError('QUALYS_RATE_LIMITED', `${what} answered HTTP 409 (limits reached)`, { retryable: true, status });
      const limited = new QualysError('QUALYS_RATE_LIMITED', err.message, {
        retryable: true,
        status,
        ...(err.qualysCode !== undefined ? { qualysCode: err.qualysCode } : {}),
      });
      const waitMs = limits.toWaitSec !== undefined ? limits.toWaitSec * 1000 : -1;
      return { retryAfterMs: waitMs, conflict: true, error: limited };
    }
    if (status < 400) return undefined;
    const root = looksLikeHtml(undefined, body) ? undefined : safeParse(body);
    const env = root ? envelopeError(root, status, what) : undefined;
    if (status === 401) {
      throw env?.code === 'QUALYS_BAD_CREDENTIALS'
        ? env
        : new QualysError('QUALYS_BAD_CREDENTIALS', `bad credentials: ${what} answered HTTP 401`, { retryable: false, status });
    }
    if (env && !env.retryable) throw env;
    if (status >= 500 || env?.retryable) {
      const error = env ?? new QualysError('QUALYS_HTTP_ERROR', `${what} answered HTTP ${status}`, { retryable: true, status });
      return { retryAfterMs: -1, error };
    }
    if (looksLikeHtml(undefined, body)) throw htmlPageError(what, status, body);
    throw new QualysError('QUALYS_HTTP_ERROR', `${what} answered HTTP ${status}`, { retryable: false, status });
  }

  /**
   * Run `attempt` until it is done: 409s wait X-RateLimit-ToWait-Sec (or backoff with jitter when absent)
   * and tell every process sharing the budget to wait too; retryable failures back off; the number of both
   * is bounded.
   */
  async withRetries<T>(what: string, signal: AbortSignal | undefined, attempt: () => Promise<Step<T>>): Promise<T> {
    let failures = 0;
    let conflicts = 0;
    for (;;) {
      let step: Step<T>;
      try {
        step = await attempt();
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        const e = err instanceof QualysError ? err : fromNetworkError(err, what);
        if (!e.retryable || e.code === 'QUALYS_BUDGET_TIMEOUT' || e.code === 'QUALYS_BODY_CHANGED') throw e;
        step = { retryAfterMs: -1, error: e };
      }
      if ('done' in step) return step.done;
      let wait: number;
      if (step.conflict) {
        this.counters.conflicts409++;
        conflicts++;
        // tell every process sharing the subscription first, even when this call gives up
        if (step.retryAfterMs > 0) await this.budget.blockFor(step.retryAfterMs).catch((err: unknown) => this.budgetWarning(err));
        if (conflicts > this.limits.max409) throw step.error;
        if (step.retryAfterMs > this.limits.max409WaitSec * 1000) throw step.error;
        wait = step.retryAfterMs >= 0 ? step.retryAfterMs : backoffMs(conflicts, this.limits.backoffBaseMs, this.limits.backoffMaxMs);
      } else {
        failures++;
        if (failures >= this.limits.maxAttempts) throw step.error;
        this.counters.retries++;
        wait = backoffMs(failures, this.limits.backoffBaseMs, this.limits.backoffMaxMs);
      }
      this.logger.warn({ what: stripOrigin(what, this.origin), code: step.error.code, status: step.error.status, waitMs: wait, failures, conflicts }, 'qualys call will be retried');
      this.counters.waitedSec += wait / 1000;
      await sleep(wait, signal);
    }
  }

  /** A call answering a small XML document: the root element, or a typed error. */
  async callXml(spec: RequestSpec): Promise<XmlElement> {
    const what = this.where(spec.path) + (spec.params.action ? ` (action=${spec.params.action})` : '');
    return this.withRetries(what, spec.signal, async () => {
      const { res, lease, limits } = await this.send(spec);
      let body: string;
      try {
        body = await readSmall(res.body, this.limits.maxXmlBytes, what);
      } finally {
        await lease.release();
      }
      const status = res.statusCode;
      const err = this.errorStep(status, limits, body, what, res.headers);
      if (err) return err;
      const ct = headerText(res.headers['content-type']);
      if (looksLikeHtml(ct, body)) throw htmlPageError(what, status, body);
      const root = safeParse(body);
      if (!root) throw new QualysError('QUALYS_UNEXPECTED_RESPONSE', `${what} answered HTTP ${status} without an XML document`, { retryable: false, status });
      const env = envelopeError(root, status, what);
      if (env?.code === 'QUALYS_RATE_LIMITED') return { retryAfterMs: limits.toWaitSec !== undefined ? limits.toWaitSec * 1000 : -1, conflict: true, error: env };
      if (env?.retryable) return { retryAfterMs: -1, error: env };
      if (env) throw env;
      return { done: root };
    });
  }

  /** Close gracefully; a download nobody reads to its end would hold close() forever, so destroy after a while. */
  async close(graceMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), graceMs);
      timer.unref();
    });
    const outcome = await Promise.race([this.pool.close().then(() => 'closed' as const), grace]);
    clearTimeout(timer);
    if (outcome === 'late') await this.pool.destroy();
  }
}

export function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function safeLocation(loc: string | string[] | undefined): string {
  const l = headerText(loc);
  if (!l) return '';
  try {
    const u = new URL(l, 'http://relative.invalid');
    return u.host === 'relative.invalid' ? ` to ${u.pathname}` : ` to ${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '';
  }
}

function stripOrigin(what: string, origin: string): string {
  return what.startsWith(origin) ? what.slice(origin.length) : what;
}

export function safeParse(body: string): XmlElement | undefined {
  const trimmed = body.trimStart();
  if (!trimmed.startsWith('<')) return undefined;
  return parseXml(trimmed);
}

/** Read a small answer to the end (bounded), as UTF-8. */
export async function readSmall(body: AsyncIterable<Buffer | string>, max: number, what: string): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    n += b.length;
    if (n > max) throw new QualysError('QUALYS_UNEXPECTED_RESPONSE', `${what} answered more than ${max} bytes where a small XML answer was expected`, { retryable: false });
    parts.push(b);
  }
  return Buffer.concat(parts).toString('utf8');
}
