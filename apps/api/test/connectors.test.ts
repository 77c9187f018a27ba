/** Connectors over HTTP: create, validation, duplicates, write-only encrypted password, edit, delete, purge. */
import t from 'tap';
import { Readable } from 'node:stream';
import { schedulerId } from '@qpc/jobs';
import { connectorCredentials } from '@qpc/store/connectors';
import { stageBatch } from '@qpc/store/pipeline';
import { saveReportFile } from '@qpc/store/files';
import { isEncryptedValue } from '@qpc/secrets';
import { ADMIN, VIEWER, startApi } from './helpers.ts';

const CANARY = 'Canary-Pa55word-7f3e9c1d';
const api = await startApi(t);
const httpApi = await startApi(t, { allowHttp: true });

const valid = {
  name: 'Prod PC',
  url: 'https://qualysapi.qg2.apps.qualys.com/',
  username: 'apiuser',
  password: CANARY,
  network: 'corp',
  reportTitlePrefix: 'PC Weekly',
};

t.test('create, read, list: the password is write-only and encrypted at rest', async (t) => {
  const c = await api.call('POST', '/api/connectors', { body: { ...valid, schedule: { kind: 'daily', time: '02:30', timezone: 'Europe/Paris' }, autoUrba: true } });
  t.equal(c.status, 201, c.text);
  t.equal(c.json.name, 'Prod PC');
  t.equal(c.json.url, 'https://qualysapi.qg2.apps.qualys.com', 'trailing slash dropped');
  t.equal(c.json.hasPassword, true);
  t.equal(c.json.password, undefined);
  t.same(c.json.schedule, { kind: 'daily', enabled: true, time: '02:30', timezone: 'Europe/Paris' });
  t.equal(c.json.autoUrba, true);
  t.notMatch(c.text, CANARY);

  const stored = await api.deps.store.col.connectors.findOne({ _id: c.json.id });
  t.ok(stored);
  t.ok(isEncryptedValue(stored!.password), 'stored as an encrypted value');
  t.notMatch(JSON.stringify(stored), CANARY, 'no plaintext at rest');
  t.equal(connectorCredentials(stored!, api.deps.secrets).password, CANARY);
  t.equal(stored!.nameLower, 'prod pc');
  t.ok(await api.deps.store.col.networks.findOne({ _id: 'corp' }), 'network created on first use');

  const g = await api.call('GET', `/api/connectors/${c.json.id}`, { token: VIEWER });
  t.equal(g.status, 200);
  t.same(g.json, c.json);
  t.notMatch(g.text, CANARY);
  const l = await api.call('GET', '/api/connectors', { token: VIEWER });
  t.equal(l.status, 200);
  t.equal(l.json.items.length, 1);
  t.equal(l.json.next, null);
  t.notMatch(l.text, CANARY);
  t.equal((await api.call('GET', '/api/connectors/nope')).status, 404);
});

t.test('validation names the field', async (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...valid, name: '' }, /^name: /],
    [{ ...valid, name: 'x'.repeat(101) }, /^name: /],
    [{ ...valid, url: 'not a url' }, /^url: not a valid URL/],
    [{ ...valid, url: 'http://qualys.example' }, /^url: must be https/],
    [{ ...valid, url: 'https://u:p@qualys.example' }, /^url: must not carry credentials/],
    [{ ...valid, password: undefined }, /^password: /],
    [{ ...valid, username: '' }, /^username: /],
    [{ ...valid, network: undefined }, /^network: /],
    [{ ...valid, reportTitlePrefix: '  ' }, /^reportTitlePrefix: /],
    [{ ...valid, schedule: { kind: 'daily', time: '25:00', timezone: 'UTC' } }, /^schedule\.time: /],
    [{ ...valid, schedule: { kind: 'cron', cron: '* * *', timezone: 'UTC' } }, /^schedule\.cron: /],
    [{ ...valid, schedule: { kind: 'hourly', timezone: 'Mars/Olympus' } }, /^schedule\.timezone: /],
    // refused by the scheduler's cron parser (both were accepted and then broke every schedule)
    [{ ...valid, schedule: { kind: 'cron', cron: '99 99 99 99 99', timezone: 'UTC' } }, /^schedule\.cron: .*got value 99 expected range 0-59/],
    [{ ...valid, schedule: { kind: 'cron', cron: '*/0 * * * *' } }, /^schedule\.cron: .*cannot repeat at every 0 time/],
    [{ ...valid, schedule: { kind: 'cron', cron: '0 0 30 2 *' } }, /^schedule\.cron: .*Invalid explicit day of month/],
    [{ ...valid, autoUrba: 'yes' }, /^autoUrba: /],
    [{ ...valid, extra: 1 }, /extra/],
  ];
  for (const [body, re] of cases) {
    const r = await api.call('POST', '/api/connectors', { body });
    t.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
    t.equal(r.json.error.code, 'VALIDATION_FAILED');
    t.match(r.json.error.message, re);
    t.notMatch(r.text, CANARY, 'the password is never echoed');
  }
});

t.test('control and bidi characters are refused in every text field, naming it', async (t) => {
  const bad = ['nul\u0000x', 'esc\u001b[31m', 'rtl\u202Egnp.exe', 'isolate\u2066x', 'mark\u200Fx', 'line\r\nInjected: 1', 'tab\tx', 'del\u007Fx', 'c1\u0085x', 'sep\u2028x'];
  for (const field of ['name', 'network', 'reportTitlePrefix', 'username'] as const) {
    for (const v of bad) {
      // the value is named by its ASCII prefix: a raw U+2028 in a test name breaks the TAP stream
      const label = `${field}: ${v.slice(0, 3)}`;
      const r = await api.call('POST', '/api/connectors', { body: { ...valid, name: `ctl-${field}`, [field]: v } });
      t.equal(r.status, 400, label);
      t.equal(r.json?.error?.code, 'VALIDATION_FAILED', label);
      t.match(r.json?.error?.message, new RegExp(`^${field}: must not contain control`), label);
    }
  }
  const ok = await api.call('POST', '/api/connectors', { body: { ...valid, name: 'Zürich Ünïcode 東京 🙂', reportTitlePrefix: 'PC — Weekly' } });
  t.equal(ok.status, 201, 'letters of any script and emoji pass');
  const p = await api.call('PATCH', `/api/connectors/${ok.json.id}`, { body: { name: 'x\u202Ey' } });
  t.equal(p.status, 400, 'PATCH too');
  t.match(p.json.error.message, /^name: /);
  const tc = await api.call('POST', '/api/connectors/test', { body: { url: valid.url, username: 'a\nb', password: 'p', reportTitlePrefix: 'P' } });
  t.equal(tc.status, 400, 'Test Credentials too');
  t.match(tc.json.error.message, /^username: /);
  t.equal((await api.call('DELETE', `/api/connectors/${ok.json.id}`)).status, 200);
});

t.test('PATCH refuses a cron the scheduler cannot run and keeps the stored schedule', async (t) => {
  const c = await api.call('POST', '/api/connectors', { body: { ...valid, name: 'cron-patch', network: 'cron-patch', schedule: { kind: 'cron', cron: '0 2 * * *' } } });
  t.equal(c.status, 201, c.text);
  for (const cron of ['99 99 99 99 99', '*/0 * * * *']) {
    const r = await api.call('PATCH', `/api/connectors/${c.json.id}`, { body: { schedule: { kind: 'cron', cron, timezone: 'UTC' } } });
    t.equal(r.status, 400, cron);
    t.equal(r.json.error.code, 'VALIDATION_FAILED');
    t.match(r.json.error.message, /^schedule\.cron: invalid cron /);
  }
  const stored = await api.deps.store.col.connectors.findOne({ _id: c.json.id });
  t.same(stored?.schedule, { kind: 'cron', enabled: true, cron: '0 2 * * *', timezone: 'UTC' });
  const del = await api.call('DELETE', `/api/connectors/${c.json.id}`);
  t.equal(del.status, 200);
});

t.test('plain http only when allowed', async (t) => {
  const r = await httpApi.call('POST', '/api/connectors', { body: { ...valid, url: 'http://127.0.0.1:9' } });
  t.equal(r.status, 201);
  t.equal(r.json.url, 'http://127.0.0.1:9');
  const ftp = await httpApi.call('POST', '/api/connectors', { body: { ...valid, name: 'ftp', url: 'ftp://x' } });
  t.equal(ftp.status, 400);
});

t.test('duplicate name (case-insensitive) is a 409', async (t) => {
  const r = await api.call('POST', '/api/connectors', { body: { ...valid, name: '  PROD pc ' } });
  t.equal(r.status, 409);
  t.equal(r.json.error.code, 'DUPLICATE_NAME');
  t.match(r.json.error.message, /^name: /);
  const other = await api.call('POST', '/api/connectors', { body: { ...valid, name: 'Other' } });
  t.equal(other.status, 201);
  const rename = await api.call('PATCH', `/api/connectors/${other.json.id}`, { body: { name: 'prod PC' } });
  t.equal(rename.status, 409);
});

t.test('edit: without a password the stored one is kept; with one it is replaced', async (t) => {
  const list = await api.call('GET', '/api/connectors');
  const prod = list.json.items.find((c: { name: string }) => c.name === 'Prod PC');
  const before = await api.deps.store.col.connectors.findOne({ _id: prod.id });
  const e = await api.call('PATCH', `/api/connectors/${prod.id}`, { body: { reportTitlePrefix: 'PC Daily', schedule: null, urbaThreshold: 0.2 } });
  t.equal(e.status, 200, e.text);
  t.equal(e.json.reportTitlePrefix, 'PC Daily');
  t.equal(e.json.schedule, null);
  t.equal(e.json.urbaThreshold, 0.2);
  t.equal(e.json.name, 'Prod PC');
  const after = await api.deps.store.col.connectors.findOne({ _id: prod.id });
  t.same(after!.password, before!.password, 'password untouched');
  const p = await api.call('PATCH', `/api/connectors/${prod.id}`, { body: { password: 'new-secret-1' } });
  t.equal(p.status, 200);
  t.notMatch(p.text, 'new-secret-1');
  const again = await api.deps.store.col.connectors.findOne({ _id: prod.id });
  t.equal(connectorCredentials(again!, api.deps.secrets).password, 'new-secret-1');
  t.equal((await api.call('PATCH', `/api/connectors/${prod.id}`, { body: { url: 'http://x.example' } })).status, 400);
  t.equal((await api.call('PATCH', '/api/connectors/nope', { body: { name: 'x' } })).status, 404);
  // the password restored for the other tests
  await api.call('PATCH', `/api/connectors/${prod.id}`, { body: { password: CANARY } });
});

t.test('paging the connectors list to the end', async (t) => {
  for (let i = 0; i < 7; i++) {
    t.equal((await api.call('POST', '/api/connectors', { body: { ...valid, name: `bulk-${i}` } })).status, 201);
  }
  const all = (await api.deps.store.col.connectors.find().toArray()).map((c) => c.nameLower).sort();
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const r = await api.call('GET', `/api/connectors?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token: VIEWER });
    t.equal(r.status, 200);
    seen.push(...r.json.items.map((c: { name: string }) => c.name.toLowerCase()));
    cursor = r.json.next;
    pages += 1;
  } while (cursor);
  t.same(seen, all, 'every connector once, by name');
  t.equal(pages, Math.ceil(all.length / 3));
});

t.test('delete removes the schedule, keeps the data unless purge=true', async (t) => {
  const mk = async (name: string, network: string) =>
    (await api.call('POST', '/api/connectors', { body: { ...valid, name, network, schedule: { kind: 'hourly', minute: 5, timezone: 'UTC' } } })).json.id as string;
  const keep = await mk('to-delete', 'net-keep');
  const purge = await mk('to-purge', 'net-purge');
  // what the scheduler app keeps: a job scheduler per connector on the sync queue
  for (const id of [keep, purge]) {
    await api.deps.queues.sync.upsertJobScheduler(schedulerId(id), { pattern: '5 * * * *' }, { name: 'sync', data: { connectorId: id, trigger: 'schedule' } });
  }
  // and one named otherwise that still syncs the purged connector
  await api.deps.queues.sync.upsertJobScheduler('hand-made', { pattern: '7 * * * *' }, { name: 'sync', data: { connectorId: purge, trigger: 'schedule' } });
  const seed = async (id: string, network: string) => {
    await api.deps.store.col.runs.insertOne({ _id: `run-${id}`, connectorId: id, state: 'succeeded', createdAt: new Date() } as never);
    await api.deps.store.col.reports.insertOne({ _id: `${id}:r1`, connectorId: id, reportId: 'r1', fileId: null } as never);
    await api.deps.store.col.hosts.insertOne({ _id: `h-${id}`, network, hostKey: 'ip:10.0.0.1' } as never);
    await api.deps.store.col.findings.insertOne({ _id: `f-${id}`, network, findingKey: 'k' } as never);
  };
  await seed(keep, 'net-keep');
  await seed(purge, 'net-purge');
  // a failed run of the purged connector: its report file (kept for a retry) and a batch it staged
  const { store } = api.deps;
  const failedFile = await saveReportFile(store, `file-failed-${purge}`, Readable.from([Buffer.from('<POLICY_REPORT/>')]));
  await store.col.runs.insertOne({ _id: `run-failed-${purge}`, connectorId: purge, state: 'failed', createdAt: new Date(), file: { ...failedFile, etag: null } } as never);
  await stageBatch(store, `run-failed-${purge}`, 0, [], []);
  const ingestedFile = await saveReportFile(store, `file-ingested-${purge}`, Readable.from([Buffer.from('<POLICY_REPORT/>')]));
  await store.col.reports.insertOne({ _id: `${purge}:r2`, connectorId: purge, reportId: 'r2', fileId: ingestedFile.id } as never);

  t.equal((await api.call('DELETE', `/api/connectors/${keep}`, { token: VIEWER })).status, 403);
  const d = await api.call('DELETE', `/api/connectors/${keep}`);
  t.equal(d.status, 200);
  t.same(d.json, { id: keep, deleted: true, scheduleRemoved: 1, purged: null, resumed: false });
  t.equal((await api.call('GET', `/api/connectors/${keep}`)).status, 404);
  t.equal(await api.deps.store.col.runs.countDocuments({ connectorId: keep }), 1, 'history kept');
  t.equal(await api.deps.store.col.findings.countDocuments({ network: 'net-keep' }), 1, 'findings kept');

  const p = await api.call('DELETE', `/api/connectors/${purge}?purge=true`);
  t.equal(p.status, 200);
  t.equal(p.json.scheduleRemoved, 2);
  t.match(p.json.purged, { runs: 2, reports: 2, files: 2, hosts: 1, findings: 1, networkPurged: true });
  t.equal(await store.bucket.find({ _id: { $in: [failedFile.id, ingestedFile.id] } as never }).toArray().then((f) => f.length), 0, 'the failed run\'s and the ingested report\'s files are gone');
  t.equal(await store.col.batches.countDocuments({ runId: `run-failed-${purge}` }), 0, 'no staged batch left');
  t.equal(await api.deps.store.col.findings.countDocuments({ network: 'net-purge' }), 0);
  const left = (await api.deps.queues.sync.getJobSchedulers()).map((s) => s.key);
  t.same(left, [], 'no schedule left');
  t.equal((await api.call('DELETE', `/api/connectors/${purge}`)).status, 404);
});

t.test('the canary password is in no response and no log line', async (t) => {
  t.notMatch(api.logs.join(''), CANARY);
  t.notMatch(httpApi.logs.join(''), CANARY);
  const token = ADMIN;
  t.ok(token);
});
