/** `qpc connectors ...` and `qpc sync ...` spawned as processes against a real API server on port 0. */
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectDeps, createServer } from '@qpc/api';
import { createSecretBox } from '@qpc/secrets';
import { connectorCredentials } from '@qpc/store/connectors';
import { httpServer, testMongo, testRedis, waitFor } from '@qpc/testing';
import { createLogger } from '@qpc/worker-kit';

const here = path.dirname(fileURLToPath(import.meta.url));
const qpc = path.join(here, '..', 'bin', 'qpc.mjs');
const TOKEN = 'cli-admin-token-0123456789';
const PASSWORD = 'Cli-Canary-Pa55-91ab';

const { prefix, redisUrl } = await testRedis(t);
const { url: mongoUrl } = await testMongo(t);
const secrets = createSecretBox({ keys: { k1: randomBytes(32) }, currentKeyId: 'k1' });
const { deps, close } = await connectDeps({
  redisUrl,
  mongoUrl,
  prefix,
  tokens: { admin: TOKEN, viewers: [] },
  allowHttp: false,
  secrets,
  qualys: async () => ({ ok: true, checks: { login: 'ok', policyCompliance: 'ok', reports: 'ok' }, reports: [{ id: '1', title: 'PC one', type: 'Policy', state: 'Finished', size: '1 MB', sizeBytes: 1048576, launchedAt: '2026-11-01T00:00:00.000Z' }] }),
  logger: createLogger('cli-test', 'silent'),
});
t.teardown(close); // teardowns run last-registered first: after the server closes
const { url: api } = await httpServer(t, createServer(deps).app);

async function cli(args: string[], stdin?: string, token = TOKEN): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('QPC_')) env[k] = v;
  env.QPC_API_TOKEN = token;
  const child = spawn(process.execPath, [qpc, ...args, '--api', api], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdin.end(stdin ?? '');
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

t.test('create, list, get, edit, test, delete', async (t) => {
  const c = await cli(
    ['connectors', 'create', '--name', 'Prod', '--url', 'https://qualysapi.example', '--username', 'api', '--network', 'corp', '--prefix', 'PC', '--password-stdin', '--daily', '02:30', '--tz', 'Europe/Berlin', '--auto-urba'],
    `${PASSWORD}\n`,
  );
  t.equal(c.code, 0, c.stderr);
  t.match(c.stdout, /^created Prod \(/);
  const doc = await deps.store.col.connectors.findOne({ name: 'Prod' });
  t.ok(doc);
  t.equal(connectorCredentials(doc!, secrets).password, PASSWORD, 'the password from stdin, without its newline');
  t.same(doc!.schedule, { kind: 'daily', enabled: true, time: '02:30', timezone: 'Europe/Berlin' });

  const dup = await cli(['connectors', 'create', '--name', 'prod', '--url', 'https://x.example', '--username', 'a', '--network', 'n', '--prefix', 'p', '--password-stdin'], 'pw');
  t.equal(dup.code, 1);
  t.match(dup.stderr, /DUPLICATE_NAME/);
  const nopw = await cli(['connectors', 'create', '--name', 'x', '--url', 'https://x.example', '--username', 'a', '--network', 'n', '--prefix', 'p']);
  t.equal(nopw.code, 2);
  const http = await cli(['connectors', 'create', '--name', 'y', '--url', 'http://x.example', '--username', 'a', '--network', 'n', '--prefix', 'p', '--password-stdin'], 'pw');
  t.equal(http.code, 1);
  t.match(http.stderr, /url: must be https/);

  const l = await cli(['connectors', 'list']);
  t.equal(l.code, 0);
  t.match(l.stdout, /^Prod\t[0-9a-f-]+\thttps:\/\/qualysapi.example\tcorp\tPC\tdaily\turba\tstale: no complete run has read data yet\n$/);

  // the staleness threshold: set, refused by the API out of range, refused here when not a number, cleared
  t.equal((await cli(['connectors', 'edit', 'Prod', '--stale-after-days', '3.5'])).code, 0);
  t.equal((await deps.store.col.connectors.findOne({ _id: doc!._id }))?.staleAfterDays, 3.5);
  const zero = await cli(['connectors', 'edit', 'Prod', '--stale-after-days', '0']);
  t.equal(zero.code, 1);
  t.match(zero.stderr, /staleAfterDays: /, zero.stderr);
  const word = await cli(['connectors', 'edit', 'Prod', '--stale-after-days', 'soon']);
  t.equal(word.code, 2);
  t.match(word.stderr, /--stale-after-days takes a number of days or "default"/);
  t.equal((await deps.store.col.connectors.findOne({ _id: doc!._id }))?.staleAfterDays, 3.5, 'refused values change nothing');
  t.equal((await cli(['connectors', 'edit', 'Prod', '--stale-after-days', 'default'])).code, 0);
  t.equal((await deps.store.col.connectors.findOne({ _id: doc!._id }))?.staleAfterDays, undefined, '"default" clears it');
  const g = await cli(['connectors', 'get', 'prod']);
  t.equal(JSON.parse(g.stdout).id, doc!._id, 'found by name, case-insensitive');

  const e = await cli(['connectors', 'edit', 'Prod', '--prefix', 'PC Weekly', '--no-schedule']);
  t.equal(e.code, 0, e.stderr);
  const after = await deps.store.col.connectors.findOne({ _id: doc!._id });
  t.equal(after!.reportTitlePrefix, 'PC Weekly');
  t.equal(after!.schedule, null);
  t.same(after!.password, doc!.password, 'edit without --password-stdin keeps the password');
  const moved = await cli(['connectors', 'edit', 'Prod', '--url', 'https://elsewhere.example']);
  t.equal(moved.code, 1, 'a new URL without --password-stdin is refused');
  t.match(moved.stderr, /PASSWORD_REQUIRED/);
  t.equal((await deps.store.col.connectors.findOne({ _id: doc!._id }))!.url, 'https://qualysapi.example');

  const tc = await cli(['connectors', 'test', 'Prod']);
  t.equal(tc.code, 0);
  t.match(tc.stdout, /^ok: login, Policy Compliance; 1 report/);

  const unauth = await cli(['connectors', 'list'], undefined, 'wrong-token-0123456789');
  t.equal(unauth.code, 1);
  t.match(unauth.stderr, /UNAUTHORIZED/);
  for (const r of [c, dup, l, g, e, tc]) t.notOk(`${r.stdout}${r.stderr}`.includes(PASSWORD), 'the password is never printed');

  const d = await cli(['connectors', 'delete', 'Prod']);
  t.equal(d.code, 0);
  t.match(d.stdout, /data kept/);
  t.equal((await cli(['connectors', 'get', 'Prod'])).code, 1);
  t.equal((await cli(['connectors', 'frobnicate'])).code, 2);
});

t.test('create and edit a posture connector', async (t) => {
  const c = await cli(
    ['connectors', 'create', '--name', 'Posture', '--url', 'https://qualysapi.example', '--username', 'api', '--network', 'corp-p', '--source', 'posture', '--policy-ids', '11, 12', '--posture-api', '3.0', '--full-every', '5', '--password-stdin'],
    `${PASSWORD}\n`,
  );
  t.equal(c.code, 0, c.stderr);
  const doc = await deps.store.col.connectors.findOne({ name: 'Posture' });
  t.equal(doc?.source, 'posture');
  t.same(doc?.posture, { policyIds: ['11', '12'], apiVersion: '3.0', fullEvery: 5 });
  t.equal(doc?.reportTitlePrefix, '', 'no --prefix needed');
  const e = await cli(['connectors', 'edit', 'Posture', '--policy-ids', 'all']);
  t.equal(e.code, 0, e.stderr);
  t.same((await deps.store.col.connectors.findOne({ _id: doc!._id }))?.posture, { policyIds: null, apiVersion: '3.0', fullEvery: 5 }, 'all: every visible policy; the rest kept');
  const l = await cli(['connectors', 'list']);
  t.match(l.stdout, /^Posture\t[0-9a-f-]+\thttps:\/\/qualysapi.example\tcorp-p\tposture:all\t/m);
  const bad = await cli(['connectors', 'edit', 'Posture', '--full-every', 'often']);
  t.equal(bad.code, 2);
  const bad2 = await cli(['connectors', 'edit', 'Posture', '--posture-api', '9']);
  t.equal(bad2.code, 1);
  t.match(bad2.stderr, /posture\.apiVersion/);
  t.equal((await cli(['connectors', 'delete', 'Posture'])).code, 0);
});

t.test('sync: starts one, follows its runs to the end', async (t) => {
  const c = await cli(['connectors', 'create', '--name', 'S', '--url', 'https://q.example', '--username', 'a', '--network', 'n', '--prefix', 'p', '--password-stdin', '--json'], 'pw');
  const id = JSON.parse(c.stdout).id as string;
  const nowait = await cli(['sync', 'S', '--no-wait', '--json']);
  t.equal(nowait.code, 0, nowait.stderr);
  const first = JSON.parse(nowait.stdout);
  t.equal(first.state, 'queued');
  // a worker's part, played here: the sync's run appears and ends
  const follow = cli(['sync', 'S']);
  const jobId = first.jobId as string;
  await waitFor(async () => (await deps.queues.sync.getJob(jobId)) !== undefined);
  setTimeout(() => {
    void deps.store.col.runs.insertOne({
      _id: 'run-x', connectorId: id, syncId: jobId, state: 'succeeded', reportId: '9', reportTitle: 'p one', createdAt: new Date(),
      counts: { hostsCreated: 2, hostsUpdated: 0, findingsCreated: 5, findingsUpdated: 0, findingsClosed: 0, findingsReopened: 0 }, error: null,
    } as never);
  }, 1500);
  const r = await follow;
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^joined the running sync of S: /, 'the second request joined the queued sync');
  t.match(r.stdout, /succeeded\t9\tp one\thosts \+2\/~0\tfindings \+5\/~0 closed 0 reopened 0/);
});
