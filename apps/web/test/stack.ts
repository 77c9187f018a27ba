/**
 * The real stack for the console's browser tests: the Qualys simulator, the API (serving a fresh build
 * of the console) and the three workers as processes from their bundles, over a private database and
 * queue prefix on the shared Redis and FerretDB; and a headless Chromium (Debian's) with a network log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startSimulator, resolveScenario, type ScenarioFile, type Simulator } from '@qpc/qualys-sim';
import { mongoUrlFor, serviceUrls, testRedis, waitFor, type Teardown } from '@qpc/testing';
import { ROOT, appArgs, buildApps, buildWeb } from '../../../scripts/apps.mjs';

export const ADMIN = 'web-admin-token-0123456789abcdef';
export const VIEWER = 'web-viewer-token-0123456789abcdef';
const WORKERS = ['worker-fetch', 'worker-parse', 'worker-upsert'] as const;

export interface WebStack {
  base: string;
  sim: Simulator;
  mongo: MongoClient;
  dbName: string;
  logs: string[];
  /** GET/POST/... on the API with the admin bearer token */
  call(method: string, p: string, body?: unknown): Promise<{ status: number; json: unknown }>;
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

export async function startWebStack(t: Teardown, opts: { scenario: ScenarioFile; env?: Record<string, string> }): Promise<WebStack> {
  const { prefix, redisUrl } = await testRedis(t);
  const dbName = `test_${randomUUID().replace(/-/g, '').slice(0, 20)}`;
  const mongoUrl = mongoUrlFor(serviceUrls().mongoUrl, dbName);
  const mongo = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 5000 });
  await mongo.connect();
  const sim = await startSimulator({ port: 0, scenario: resolveScenario(opts.scenario) });
  const webDir = mkdtempSync(path.join(tmpdir(), 'qpc-web-'));
  await Promise.all([buildApps(['api', ...WORKERS]), buildWeb({ outDir: webDir })]);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    REDIS_URL: redisUrl,
    MONGO_URL: mongoUrl,
    QPC_QUEUE_PREFIX: prefix,
    QPC_SECRET_KEY: randomBytes(32).toString('base64'),
    QPC_SECRET_KEY_ID: 'k1',
    QPC_API_TOKEN: ADMIN,
    QPC_VIEWER_TOKENS: VIEWER,
    QPC_API_PORT: '0',
    QPC_WEB_DIR: webDir,
    QPC_ALLOW_HTTP: '1',
    QPC_LOG_LEVEL: 'info',
    QPC_BATCH_SIZE: '50',
    QPC_SHUTDOWN_TIMEOUT_MS: '5000',
    ...opts.env,
  };
  const logs: string[] = [];
  const children: ChildProcess[] = [];
  const run = async (app: string, ready: RegExp) => {
    const child = spawn(process.execPath, appArgs(app), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const lines: string[] = [];
    const onData = (b: Buffer) => {
      for (const l of b.toString('utf8').split('\n')) {
        if (!l) continue;
        lines.push(l);
        logs.push(`${app}| ${l}`);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    await waitFor(() => lines.some((l) => ready.test(l)) || child.exitCode !== null, 30_000);
    if (child.exitCode !== null) throw new Error(`${app} exited at start: ${lines.slice(-5).join('\n')}`);
    return lines;
  };
  t.teardown(async () => {
    await Promise.all(children.map(stop));
    await sim.close();
    // the apps are stopped before the database goes (FerretDB's SQLite backend dislikes a file removed under a reader)
    await mongo.db(dbName).dropDatabase().catch(() => undefined);
    await mongo.close();
    rmSync(webDir, { recursive: true, force: true });
  });
  const apiLines = await run('api', /api listening/);
  await Promise.all(WORKERS.map((w) => run(w, / started/)));
  const listening = apiLines.map((l) => /"url":"(http:[^"]+)"/.exec(l)).find(Boolean);
  if (!listening?.[1]) throw new Error('the API did not say where it listens');
  const base = listening[1];
  return {
    base,
    sim,
    mongo,
    dbName,
    logs,
    async call(method, p, body) {
      const res = await fetch(`${base}${p}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null };
    },
  };
}

export interface NetEntry {
  url: string;
  method: string;
  status: number;
  headers: string;
  body: string;
}

export interface Browsing {
  context: BrowserContext;
  page: Page;
  /** every response the browser received: url, status, headers and (text) body */
  network: NetEntry[];
  /** the console's own failures: page errors and console errors */
  problems: string[];
  /** resolves once every response so far is in the log (bodies are read asynchronously) */
  settle(): Promise<void>;
}

/** Debian's Chromium, headless, with a fresh profile; every response is logged. */
export async function openBrowser(t: Teardown, base: string): Promise<Browsing> {
  const profile = mkdtempSync(path.join(tmpdir(), 'qpc-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 900 },
    baseURL: base,
  });
  t.teardown(async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });
  const network: NetEntry[] = [];
  const problems: string[] = [];
  const pending: Promise<void>[] = [];
  context.on('response', (res) => {
    pending.push(
      (async () => {
        const headers = Object.entries(await res.allHeaders()).map(([k, v]) => `${k}: ${v}`).join('\n');
        let body = '';
        try {
          body = (await res.body()).toString('utf8');
        } catch {
          body = ''; // redirects and aborted loads have no body
        }
        network.push({ url: res.url(), method: res.request().method(), status: res.status(), headers, body });
      })(),
    );
  });
  const page = context.pages()[0] ?? (await context.newPage());
  // the machine running the tests may be busy: FerretDB scans take seconds under load
  page.setDefaultTimeout(60_000);
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // 4xx answers the console shows on purpose are logged by Chromium as failed loads: not problems
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return { context, page, network, problems, settle: async () => void (await Promise.all(pending)) };
}
