/**
 * The API as it runs outside tests: its esbuild bundle (scripts/apps.mjs) with plain Node, no tsx. It
 * starts, answers /readyz against the real Redis and MongoDB-wire server, serves Bull Board's static
 * files (resolved from node_modules, not from the bundle), and exits 0 on SIGTERM. The worker bundles
 * (one bootstrap: @qpc/worker-kit's startWorkerApp) start, write their heartbeat and exit 0 on SIGTERM, or
 * refuse a configuration they cannot run with. docker-compose.yml runs the same bundles.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { testMongo, testRedis, waitFor } from '@qpc/testing';
import { APPS, NODE_FLAGS, ROOT, appArgs, buildApps, bundlePath } from '../../../scripts/apps.mjs';

t.test('the API bundle starts, is ready, serves the dashboard and the console, and stops cleanly', async (t) => {
  const [file] = await buildApps(['api']);
  t.equal(file, bundlePath('api'));
  const { redisUrl, prefix } = await testRedis(t);
  const { url: mongoUrl } = await testMongo(t);
  const token = randomBytes(18).toString('base64url');
  const child = spawn(process.execPath, appArgs('api'), {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: redisUrl,
      MONGO_URL: mongoUrl,
      QPC_QUEUE_PREFIX: prefix,
      QPC_API_TOKEN: token,
      QPC_API_PORT: '0',
      QPC_SECRET_KEY: randomBytes(32).toString('base64'),
      QPC_SECRET_KEY_ID: 'k1',
      QPC_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const lines: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => lines.push(l));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'api listening' line in 30 s: ${lines.join('\n')}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (l) => {
      lines.push(l);
      const m = /"url":"(http:[^"]+)".*api listening/.exec(l);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`the API exited (${code}) before listening: ${lines.join('\n')}`)));
  });

  const ready = await fetch(`${url}/readyz`);
  t.equal(ready.status, 200, await ready.text());
  const auth = `Basic ${Buffer.from(`ops:${token}`).toString('base64')}`;
  const board = await fetch(`${url}/admin/queues`, { headers: { authorization: auth } });
  t.equal(board.status, 200);
  const html = await board.text();
  const script = /src="([^"]+\.js)"/.exec(html)?.[1];
  t.ok(script, 'the dashboard page links its script');
  const asset = await fetch(new URL(script!, `${url}/admin/queues/`), { headers: { authorization: auth } });
  t.equal(asset.status, 200, `${script} is served`);
  t.ok((await asset.arrayBuffer()).byteLength > 1000);
  const api = await fetch(`${url}/api/connectors`, { headers: { authorization: `Bearer ${token}` } });
  t.equal(api.status, 200);

  // the console: apps/web/dist found from the bundle's own place, and a session cookie the board accepts
  const consolePage = await fetch(`${url}/connectors`);
  t.equal(consolePage.status, 200);
  const built = await readFile(path.join(ROOT, 'apps', 'web', 'dist', 'index.html'), 'utf8').catch(() => null);
  const pageText = await consolePage.text();
  if (built === null) t.match(pageText, 'npm run build', 'no console build: the hint');
  else t.equal(pageText, built, "the console's index.html");
  const signIn = await fetch(`${url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  t.equal(signIn.status, 200);
  const cookie = /^qpc_session=[^;]+/.exec(signIn.headers.get('set-cookie') ?? '')?.[0] ?? '';
  t.equal((await fetch(`${url}/admin/queues/api/queues`, { headers: { cookie } })).status, 200, 'the board with the session cookie');

  child.kill('SIGTERM');
  const [code, signal] = await exited;
  t.same({ code, signal }, { code: 0, signal: null }, 'graceful exit on SIGTERM');
  t.notOk(lines.join('\n').includes(token), 'the token is not logged');
});

t.test('docker-compose and the Dockerfile run the bundles buildApps writes', async (t) => {
  const compose = await readFile(path.join(ROOT, 'docker-compose.yml'), 'utf8');
  const commands = [...compose.matchAll(/^ {2}([a-z-]+):\n(?: {4}.*\n)*? {4}command: \["(apps\/[^"]+)"\]/gm)].map((m) => [m[1], m[2]]);
  t.same(commands, APPS.map((a) => [a, bundlePath(a)]), 'one service per app, each running its bundle');
  const dockerfile = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
  t.match(dockerfile, /npm run build/);
  t.match(dockerfile, new RegExp(`ENTRYPOINT \\["node", ${NODE_FLAGS.map((f) => `"${f}"`).join(', ')}\\]`), 'the image uses the same Node flags');
});

t.test('the worker bundles start, beat, and close everything on SIGTERM; a missing secret key stops worker-fetch', async (t) => {
  const workers = ['worker-fetch', 'worker-parse', 'worker-upsert'];
  await buildApps(workers);
  const { redisUrl, prefix } = await testRedis(t);
  const { url: mongoUrl } = await testMongo(t);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'qpc-bundles-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const secretKey = randomBytes(32).toString('base64');
  const start = (app: string, extra: Record<string, string>) => {
    const child = spawn(process.execPath, appArgs(app), {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', REDIS_URL: redisUrl, MONGO_URL: mongoUrl, QPC_QUEUE_PREFIX: prefix, QPC_LOG_LEVEL: 'info', ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
    createInterface({ input: child.stderr! }).on('line', (l) => lines.push(l));
    return { child, lines, exited: once(child, 'exit') };
  };

  for (const app of workers) {
    const heartbeat = path.join(dir, `${app}.beat`);
    const p = start(app, { QPC_SECRET_KEY: secretKey, QPC_SECRET_KEY_ID: 'k1', QPC_HEARTBEAT_FILE: heartbeat });
    const deadline = Date.now() + 30_000;
    while (!p.lines.some((l) => l.includes(`${app} started`)) && p.child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    t.ok(p.lines.some((l) => l.includes(`${app} started`)), `${app} started: ${p.lines.join('\n')}`);
    // the first beat is written as the app starts, not before it says so
    const beat = await waitFor(async () => ((await readFile(heartbeat, 'utf8').catch(() => '')) || null), 5_000).catch(() => '');
    t.match(beat, /^\d{13}$/, `${app} writes its heartbeat`);
    p.child.kill('SIGTERM');
    const [code, signal] = await p.exited;
    t.same({ code, signal }, { code: 0, signal: null }, `${app} exits 0 on SIGTERM`);
    t.ok(p.lines.some((l) => l.includes('shut down cleanly')), `${app} closed everything`);
    t.notOk(p.lines.join('\n').includes(secretKey), `${app} does not log the secret key`);
  }

  const noKey = start('worker-fetch', {});
  const [code] = await noKey.exited;
  t.not(code, 0, 'worker-fetch without QPC_SECRET_KEY does not run');
  t.match(noKey.lines.join('\n'), /QPC_SECRET_KEY is required/);
});
