/**
 * Prometheus metrics, read at scrape time from the shared state (queue counts from Redis, run
 * outcomes and counters from the run records in MongoDB), so one API process shows the work of every
 * scheduler and worker process, and a restart loses nothing.
 *
 * /metrics needs a token like every other route (viewer is enough): it reveals queue depths and
 * connector activity. Prometheus sends it with `authorization: { credentials: <viewer token> }`.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queue } from 'bullmq';

export interface RunTotals {
  /** number of runs by state */
  byState: Record<string, number>;
  /** ended runs (succeeded, partial, failed, no-new-report) by connector id, then by state */
  endedByConnector: Record<string, Record<string, number>>;
  findingsCreated: number;
  findingsUpdated: number;
  findingsClosed: number;
  findingsReopened: number;
  urbaClosed: number;
  hostsWritten: number;
  qualysCalls: number;
  qualys409: number;
  qualysWaitSeconds: number;
}

export type RunTotalsSource = () => Promise<RunTotals>;

/** Each connector's data freshness (apps/api/src/freshness.ts), read at scrape time. */
export type FreshnessSource = () => Promise<{ id: string; name: string; dataAge: number | null; stale: boolean }[]>;

const JOB_STATES = ['waiting', 'active', 'completed', 'failed', 'delayed', 'paused', 'prioritized', 'waiting-children'] as const;

/** A counter whose value is read from elsewhere on every scrape. */
function mirroredCounter(registry: Registry, name: string, help: string, read: (t: RunTotals) => number, totals: () => Promise<RunTotals>) {
  return new Counter({
    name,
    help,
    registers: [registry],
    async collect() {
      const t = await totals();
      this.reset();
      this.inc(read(t));
    },
  });
}

export function createMetrics(opts: { queues: readonly Queue[]; runTotals: RunTotalsSource; stuckRuns?: () => Promise<number>; freshness?: FreshnessSource }): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'qpc_api_' });

  new Gauge({
    name: 'qpc_jobs',
    help: 'BullMQ jobs by queue and state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const q of opts.queues) {
        const counts = await q.getJobCounts(...JOB_STATES);
        for (const state of JOB_STATES) this.set({ queue: q.name, state }, counts[state] ?? 0);
      }
    },
  });

  // One read of the run records per scrape, shared by every metric below.
  let pending: Promise<RunTotals> | undefined;
  const totals = () => {
    pending ??= opts.runTotals().finally(() => {
      setImmediate(() => {
        pending = undefined;
      });
    });
    return pending;
  };

  new Gauge({
    name: 'qpc_runs',
    help: 'sync runs by state (outcome for finished runs)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const t = await totals();
      this.reset();
      for (const [state, n] of Object.entries(t.byState)) this.set({ state }, n);
    },
  });
  const counters: [string, string, (t: RunTotals) => number][] = [
    ['qpc_findings_created_total', 'findings created by all runs', (t) => t.findingsCreated],
    ['qpc_findings_updated_total', 'findings updated by all runs', (t) => t.findingsUpdated],
    ['qpc_findings_written_total', 'findings written (created + updated) by all runs', (t) => t.findingsCreated + t.findingsUpdated],
    ['qpc_findings_closed_total', 'findings closed by all runs (passed and URBA)', (t) => t.findingsClosed],
    ['qpc_findings_reopened_total', 'findings reopened by all runs', (t) => t.findingsReopened],
    ['qpc_urba_closed_total', 'findings closed by URBA', (t) => t.urbaClosed],
    ['qpc_hosts_written_total', 'hosts created or updated by all runs', (t) => t.hostsWritten],
    ['qpc_qualys_calls_total', 'Qualys API calls made by all runs', (t) => t.qualysCalls],
    ['qpc_qualys_conflicts_total', 'Qualys 409 (concurrency / rate limit) answers', (t) => t.qualys409],
    ['qpc_qualys_wait_seconds_total', 'seconds waited on Qualys limits', (t) => t.qualysWaitSeconds],
  ];
  for (const [name, help, read] of counters) mirroredCounter(registry, name, help, read, totals);
  new Counter({
    name: 'qpc_run_total',
    help: 'runs ended, by connector id and outcome (succeeded, partial, failed, no-new-report)',
    labelNames: ['connector', 'state'],
    registers: [registry],
    async collect() {
      const t = await totals();
      this.reset();
      for (const [connector, states] of Object.entries(t.endedByConnector)) {
        for (const [state, n] of Object.entries(states)) this.inc({ connector, state }, n);
      }
    },
  });
  if (opts.freshness) {
    // one read per scrape, shared by both gauges
    const source = opts.freshness;
    let read: ReturnType<FreshnessSource> | undefined;
    const rows = () => {
      read ??= source().finally(() => {
        setImmediate(() => {
          read = undefined;
        });
      });
      return read;
    };
    new Gauge({
      name: 'qpc_connector_data_age_seconds',
      help: "seconds since the connector's newest assessment (newest dataAsOf of its complete runs); absent until one is read",
      labelNames: ['connector', 'name'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const r of await rows()) if (r.dataAge !== null) this.set({ connector: r.id, name: r.name }, r.dataAge);
      },
    });
    new Gauge({
      name: 'qpc_connector_stale',
      help: "1 when the connector's data is stale (older than its staleAfterDays, its last complete run read 0 hosts, or none read yet), else 0",
      labelNames: ['connector', 'name'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const r of await rows()) this.set({ connector: r.id, name: r.name }, r.stale ? 1 : 0);
      },
    });
  }
  if (opts.stuckRuns) {
    const stuckRuns = opts.stuckRuns;
    new Gauge({
      name: 'qpc_runs_stuck',
      help: 'runs in progress that stopped advancing with no job waiting or active (the scheduler resumes or fails them)',
      registers: [registry],
      async collect() {
        this.set(await stuckRuns());
      },
    });
  }
  return registry;
}
