import { createHash, randomUUID } from 'node:crypto';
import { QualysError } from './errors.ts';
import { sleep } from './limits.ts';

/**
 * The call budget of one Qualys subscription: at most `limit` calls running at once (a call runs until its
 * body has been read to the end or dropped), and nobody calls while the subscription is told to wait
 * (409 or no calls remaining). The Redis budget shares this between every process; the local one is for a
 * single process without Redis.
 */
export interface Lease {
  readonly id: string;
  /** idempotent */
  release(): Promise<void>;
}

export interface Budget {
  acquire(signal?: AbortSignal): Promise<Lease>;
  /** the concurrency limit the server announced (X-Concurrency-Limit-Limit) */
  learnLimit(limit: number): Promise<void>;
  /** nobody calls for ms (409 with X-RateLimit-ToWait-Sec, or no calls remaining in the window) */
  blockFor(ms: number): Promise<void>;
  /** the limit in force now */
  currentLimit(): number;
}

export interface BudgetOptions {
  /** the concurrency assumed until the server announces its own */
  initialConcurrency: number;
  /** never more than this, whatever the server announces (0 = no cap) */
  maxConcurrency: number;
  /** give up waiting for a slot after this long */
  acquireTimeoutMs: number;
}

/** The Redis key part of a subscription: a hash of the server URL and the user name, never the password. */
export function subscriptionId(url: string, username: string): string {
  const u = new URL(url);
  const base = `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`.toLowerCase();
  return createHash('sha256').update(`${base}\n${username}`).digest('hex').slice(0, 32);
}

export function clampLimit(limit: number, opts: BudgetOptions): number {
  const capped = opts.maxConcurrency > 0 ? Math.min(limit, opts.maxConcurrency) : limit;
  return Math.max(1, Math.floor(capped));
}

export function budgetTimeout(ms: number): QualysError {
  return new QualysError('QUALYS_BUDGET_TIMEOUT', `no Qualys call slot free within ${ms} ms`, { retryable: true });
}

/** A budget for one process. */
export class LocalBudget implements Budget {
  private running = new Set<string>();
  private learned: number | undefined;
  private blockedUntil = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly opts: BudgetOptions) {}

  currentLimit(): number {
    return clampLimit(this.learned ?? this.opts.initialConcurrency, this.opts);
  }

  async learnLimit(limit: number): Promise<void> {
    this.learned = limit;
    this.wake();
  }

  async blockFor(ms: number): Promise<void> {
    this.blockedUntil = Math.max(this.blockedUntil, Date.now() + ms);
  }

  async acquire(signal?: AbortSignal): Promise<Lease> {
    const deadline = Date.now() + this.opts.acquireTimeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      const wait = this.blockedUntil - Date.now();
      if (wait > 0) {
        if (Date.now() + wait > deadline) throw budgetTimeout(this.opts.acquireTimeoutMs);
        await sleep(wait, signal);
        continue;
      }
      if (this.running.size < this.currentLimit()) {
        const id = randomUUID();
        this.running.add(id);
        return {
          id,
          release: async () => {
            if (this.running.delete(id)) this.wake();
          },
        };
      }
      const left = deadline - Date.now();
      if (left <= 0) throw budgetTimeout(this.opts.acquireTimeoutMs);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 1000));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.push(done);
      });
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
