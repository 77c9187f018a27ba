/**
 * The chaos suite's pipeline: the apps' bundles as separate processes (any number per kind, killable),
 * the simulator in this process (closed and reopened on its port), a database and queue prefix of its
 * own, and the checks of a connector's network against the generator's ground truth.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { createEnqueuer, type Enqueuer } from '@qpc/jobs';
import { expectedRecords, startSimulator, type Simulator } from '@qpc/qualys-sim';
import type { Scenario } from '@qpc/qualys-sim';
import { createSecretBox } from '@qpc/secrets';
import { createStore, ensureIndexes, type RunState, type Store } from '@qpc/store/db';
import { createConnector } from '@qpc/store/connectors';
import { isTerminal } from '@qpc/store/pipeline';
import { connectionOptions } from '@qpc/worker-kit';
import { MongoClient } from 'mongodb';
import { appArgs, ROOT } from '../apps.mjs';
import { sleep } from './servers.ts';

export type Kind = 'api' | 'scheduler' | 'worker-fetch' | 'worker-parse' | 'worker-upsert';

export interface Check {
  states: Partial<Record<RunState, number>>;
  lost: number;
  duplicated: number;
  wronglyClosed: number;
  /** open in the database, closed in the report */
  wronglyOpen: number;
  stuck: number;
}

export class Stack {
  readonly procs = new Map<string, ChildProcess>();
  /** apps whose database watch found their client wedged and reopened it (drained by each row) */
  readonly reopened: string[] = [];
  readonly apiToken = randomBytes(24).toString('base64url');
  apiUrl = '';
  readonly store: Store;
  private readonly key = randomBytes(32);
  private readonly logs: WriteStream;
  private truth: Map<string, string> | null = null;

  constructor(
    readonly sim: Simulator,
    readonly client: MongoClient,
    readonly env: Record<string, string>,
    readonly enqueuer: Enqueuer,
    logDir: string,
  ) {
    this.store = createStore(client.db());
    this.logs = createWriteStream(path.join(logDir, 'apps.log'));
  }

  static async create(o: { scenario: Scenario; mongoUrl: string; directMongoUrl: string; redisUrl: string; logDir: string; env: Record<string, string> }) {
    const sim = await startSimulator({ port: 0, scenario: o.scenario });
    const client = new MongoClient(o.directMongoUrl, { serverSelectionTimeoutMS: 60_000 });
    await client.connect();
    await ensureIndexes(client.db());
    const prefix = `chaos-${randomUUID().slice(0, 8)}`;
    const enqueuer = createEnqueuer({ connection: connectionOptions(o.redisUrl, 'producer'), prefix });
    const s = new Stack(sim, client, {}, enqueuer, o.logDir);
    Object.assign(s.env, {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      REDIS_URL: o.redisUrl,
      MONGO_URL: o.mongoUrl,
      QPC_QUEUE_PREFIX: prefix,
      QPC_SECRET_KEY: s.key.toString('base64'),
      QPC_SECRET_KEY_ID: 'k1',
      QPC_ALLOW_HTTP: '1',
      QPC_LOG_LEVEL: 'info',
      QPC_API_TOKEN: s.apiToken,
      ...o.env,
    });
    return s;
  }

  /** Starts one process of an app (name: e.g. worker-parse#2) and waits for its start line. */
  async start(name: string, extraEnv: Record<string, string> = {}): Promise<void> {
    const kind = name.split('#')[0] as Kind;
    const child = spawn(process.execPath, appArgs(kind), { cwd: ROOT, env: { ...this.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.set(name, child);
    let started = false;
    let tail = '';
    const onData = (d: Buffer) => {
      const text = d.toString('utf8');
      this.logs.write(text.replace(/^/gm, `${name} `).replace(new RegExp(`${name} $`), ''));
      tail = (tail + text).slice(-4000);
      if (text.includes('database client wedged')) this.reopened.push(name);
      if (/ started"|api listening/.test(tail)) started = true;
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    for (let i = 0; i < 600 && !started && child.exitCode === null; i++) await sleep(100);
    if (!started) throw new Error(`chaos: ${name} did not start: ${tail.slice(-600)}`);
  }

  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.procs.get(name);
    this.procs.delete(name);
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    const t = setTimeout(() => c.kill('SIGKILL'), 15_000);
    await gone;
    clearTimeout(t);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((n) => this.kill(n, 'SIGTERM')));
  }

  /** The Qualys side goes away (open downloads cut) and comes back on the same address after downMs. */
  async restartSim(downMs: number): Promise<void> {
    const port = Number(new URL(this.sim.url).port);
    const scenario = this.sim.scenario;
    await this.sim.close();
    await sleep(downMs);
    (this as { sim: Simulator }).sim = await startSimulator({ port, scenario });
  }

  async connector(network: string): Promise<string> {
    const box = createSecretBox({ keys: { k1: this.key }, currentKeyId: 'k1' });
    const c = await createConnector(this.store, box, {
      name: network, url: this.sim.url, username: 'demo', password: 'demo', network, reportTitlePrefix: 'QPC-CHAOS', autoUrba: true,
    });
    return c._id;
  }

  async requestSync(connectorId: string, reingest = false): Promise<string> {
    // joinQueued false: this sync is queued for itself, never deduplicated into another request
    const { jobId } = await this.enqueuer.requestSync({ connectorId, reingest, requestId: randomUUID() }, { joinQueued: false });
    return jobId;
  }

  /** Every run of the sync ended and its lock released, or false at the deadline. */
  async waitSync(syncId: string, timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      try {
        const runs = await this.store.col.runs.find({ syncId }, { projection: { state: 1 } }).toArray();
        if (runs.length > 0 && runs.every((r) => isTerminal(r.state)) && !(await this.store.col.syncLocks.findOne({ syncId }))) return true;
      } catch {
        // the database may be the fault under way: keep polling until the deadline
      }
      await sleep(250);
    }
    return false;
  }

  /** finding key -> status, as the generator wrote the report */
  groundTruth(): Map<string, string> {
    if (!this.truth) {
      this.truth = new Map();
      for (const rec of expectedRecords(this.sim.scenario.reports[0]!)) if (rec.type === 'finding') this.truth.set(rec.findingKey, rec.status);
    }
    return this.truth;
  }

  /** The connector's network against the ground truth, and the states of the given syncs' runs. */
  async check(connectorId: string, network: string, syncIds: string[]): Promise<Check> {
    const truth = this.groundTruth();
    const docs = await this.store.col.findings.find({ network }, { projection: { findingKey: 1, status: 1 } }).toArray();
    const seen = new Map<string, number>();
    let wronglyClosed = 0;
    let wronglyOpen = 0;
    for (const d of docs) {
      seen.set(d.findingKey, (seen.get(d.findingKey) ?? 0) + 1);
      const want = truth.get(d.findingKey);
      if (d.status === 'Closed' && want !== 'Closed') wronglyClosed++;
      if (d.status === 'Open' && want === 'Closed') wronglyOpen++;
    }
    const lost = [...truth.keys()].filter((k) => !seen.has(k)).length;
    const duplicated = [...seen.values()].reduce((n, c) => n + c - 1, 0) + docs.filter((d) => !truth.has(d.findingKey)).length;
    const runs = await this.store.col.runs.find({ connectorId, syncId: { $in: syncIds } }, { projection: { state: 1 } }).toArray();
    const states: Check['states'] = {};
    for (const r of runs) states[r.state] = (states[r.state] ?? 0) + 1;
    const stuck = runs.filter((r) => !isTerminal(r.state)).length;
    return { states, lost, duplicated, wronglyClosed, wronglyOpen, stuck };
  }

  /**
   * Removes a checked network's hosts, findings and assessments: FerretDB scans a collection for every
   * keyed query, so each row's leftovers would slow every later row's writes.
   */
  async clean(network: string): Promise<void> {
    for (const col of [this.store.col.findings, this.store.col.hosts, this.store.col.assessments] as const) await (col as typeof this.store.col.hosts).deleteMany({ network });
  }

  async close(): Promise<void> {
    await this.stopAll();
    await this.enqueuer.close();
    await this.sim.close();
    await this.client.close();
    this.logs.end();
  }
}
