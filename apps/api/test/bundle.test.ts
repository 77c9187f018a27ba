/**
 * The API as it runs outside tests: its esbuild bundle (scripts/apps.mjs) with plain Node, no tsx. It
 * starts, answers /readyz against the real Redis and MongoDB-wire server, serves Bull Board's static
 * files (resolved from node_modules, not from the bundle), and exits 0 on SIGTERM. docker-compose.yml
 * runs the same bundles.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { testMongo, testRedis } from '@qpc/testing';
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
