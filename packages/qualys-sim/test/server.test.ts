import t from 'tap';
import { reportDigest, resolveScenario, DEMO_SCENARIO, startSimulator, type Simulator } from '../src/index.ts';
import { call, sha256, simple, STD } from './http-helper.ts';

const REPORT = '/api/2.0/fo/report/';

async function sim(t: { teardown(fn: () => unknown): void }, scenario = resolveScenario({ ...DEMO_SCENARIO, launchFinishAfterMs: 300 })): Promise<Simulator> {
  const s = await startSimulator({ port: 0, scenario });
  t.teardown(() => s.close());
  return s;
}

const LIMIT_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-window-sec', 'x-ratelimit-remaining', 'x-ratelimit-towait-sec', 'x-concurrency-limit-limit', 'x-concurrency-limit-running'];

t.test('binds to loopback and answers about.php', async (t) => {
  const s = await sim(t);
  t.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const a = await call(s.url, '/msp/about.php');
  t.equal(a.status, 200);
  t.match(a.text(), /<ABOUT>[\s\S]*<WEB-VERSION>/);
  for (const h of LIMIT_HEADERS) t.ok(a.headers[h] !== undefined, h);
  t.equal(a.headers['x-concurrency-limit-running'], '1');
});

t.test('Basic auth: missing or wrong credentials answer 401 SIMPLE_RETURN 2000, with limit headers', async (t) => {
  const s = await sim(t);
  const none = await call(s.url, `${REPORT}?action=list`, { headers: { 'X-Requested-With': 'x' } });
  t.equal(none.status, 401);
  t.same(simple(none.text()), { root: 'SIMPLE_RETURN', code: '2000', text: 'Bad Login/Password' });
  for (const h of LIMIT_HEADERS) t.ok(none.headers[h] !== undefined, h);
  const wrong = await call(s.url, `${REPORT}?action=list`, { headers: { 'X-Requested-With': 'x', Authorization: `Basic ${Buffer.from('demo:nope').toString('base64')}` } });
  t.equal(wrong.status, 401);
  t.notMatch(wrong.text(), /nope/);
  const ok = await call(s.url, `${REPORT}?action=list`);
  t.equal(ok.status, 200);
});

t.test('calls without X-Requested-With are refused with 400 SIMPLE_RETURN', async (t) => {
  const s = await sim(t);
  const a = await call(s.url, `${REPORT}?action=list`, { headers: { Authorization: STD.Authorization } });
  t.equal(a.status, 400);
  t.equal(simple(a.text()).root, 'SIMPLE_RETURN');
  t.ok(simple(a.text()).code);
  const nf = await call(s.url, '/api/2.0/fo/scan/?action=list');
  t.equal(nf.status, 404);
});

t.test('report list and its filters', async (t) => {
  const s = await sim(t);
  const all = (await call(s.url, `${REPORT}?action=list`)).text();
  const ids = (b: string): string[] => [...b.matchAll(/<ID>(\d+)<\/ID>/g)].map((m) => m[1] as string);
  t.same(ids(all), ['1001', '1002', '1003', '1004', '1005', '1006', '1007']);
  t.match(all, /<TITLE><!\[CDATA\[QPC-DEMO Windows Servers\]\]><\/TITLE>/);
  t.match(all, /<SIZE>\d+\.\d MB<\/SIZE>/);
  t.same(ids((await call(s.url, `${REPORT}?action=list&state=Running`)).text()), ['1004']);
  const running = (await call(s.url, `${REPORT}?action=list&id=1004`)).text();
  t.match(running, /<SIZE>-<\/SIZE>/);
  t.same(ids((await call(s.url, `${REPORT}?action=list&id=1001,1003`)).text()), ['1001', '1003']);
  t.same(ids((await call(s.url, `${REPORT}?action=list&expires_before_datetime=${new Date().toISOString()}`)).text()), ['1006']);
  t.same(ids((await call(s.url, `${REPORT}?action=list&user_login=someone_else`)).text()), []);
  // POST form works like GET
  t.same(ids((await call(s.url, REPORT, { method: 'POST', body: 'action=list&state=Running' })).text()), ['1004']);
  t.equal((await call(s.url, `${REPORT}?action=nope`)).status, 400);
});

t.test('fetch: finished report streams whole with length and ETag; not finished, expired, unknown answer SIMPLE_RETURN', async (t) => {
  const s = await sim(t);
  const spec = s.scenario.reports.find((r) => r.id === '1001')!;
  const d = await reportDigest(spec);
  const a = await call(s.url, `${REPORT}?action=fetch&id=1001`);
  t.equal(a.status, 200);
  t.match(a.headers['content-type'], /text\/xml/);
  t.equal(Number(a.headers['content-length']), d.bytes);
  t.match(a.headers.etag, /^"[0-9a-f]{32}"$/);
  t.equal(sha256(a.body), d.sha256);
  const again = await call(s.url, `${REPORT}?action=fetch&id=1001`);
  t.equal(sha256(again.body), d.sha256, 'same id, same bytes');
  t.equal(again.headers.etag, a.headers.etag);
  for (const [id, code] of [['1004', '1905'], ['1006', '1906'], ['9999', '1904']] as const) {
    const r = await call(s.url, `${REPORT}?action=fetch&id=${id}`);
    t.equal(r.status, 400, id);
    t.same(simple(r.text()).root, 'SIMPLE_RETURN');
    t.equal(simple(r.text()).code, code, id);
  }
  const scan = await call(s.url, `${REPORT}?action=fetch&id=1007`);
  t.equal(scan.status, 200);
  t.match(scan.text(), /<ASSET_DATA_REPORT>/);
  t.same(s.stats().fetches, { '1001': 2, '1004': 1, '1006': 1, '9999': 1, '1007': 1 });
});

t.test('launch: a new Running report that finishes after launchFinishAfterMs', async (t) => {
  const s = await sim(t);
  const bad = await call(s.url, REPORT, { method: 'POST', body: 'action=launch&report_type=Policy' });
  t.equal(bad.status, 400);
  t.equal(simple(bad.text()).code, '1903');
  const a = await call(s.url, REPORT, { method: 'POST', body: 'action=launch&report_type=Policy&template_id=9&policy_id=4321&output_format=xml&report_title=QPC-DEMO%20launched' });
  t.equal(a.status, 200);
  const id = /<KEY>ID<\/KEY>\s*<VALUE>(\d+)<\/VALUE>/.exec(a.text())?.[1];
  t.equal(id, '1008');
  const listed = (await call(s.url, `${REPORT}?action=list&id=${id}`)).text();
  t.match(listed, /<STATE>Running<\/STATE>/);
  t.match(listed, /QPC-DEMO launched/);
  t.equal((await call(s.url, `${REPORT}?action=fetch&id=${id}`)).status, 400);
  await new Promise((r) => setTimeout(r, 350));
  t.match((await call(s.url, `${REPORT}?action=list&id=${id}`)).text(), /<STATE>Finished<\/STATE>/);
  const body = await call(s.url, `${REPORT}?action=fetch&id=${id}`);
  t.equal(body.status, 200);
  t.match(body.text(), /<ID>4321<\/ID>/);
});

t.test('compliance policy list, and its failure without the PC module', async (t) => {
  const s = await sim(t);
  const a = await call(s.url, '/api/2.0/fo/compliance/policy/?action=list&details=Basic');
  t.equal(a.status, 200);
  t.same([...a.text().matchAll(/<ID>(\d+)<\/ID>/g)].map((m) => m[1]), ['1234', '2001', '2002']);
  const noPc = await sim(t, resolveScenario({ ...DEMO_SCENARIO, pcModule: false }));
  const b = await call(noPc.url, '/api/2.0/fo/compliance/policy/?action=list&details=Basic');
  t.equal(b.status, 403);
  t.same(simple(b.text()).code, '2003');
  t.equal((await call(noPc.url, `${REPORT}?action=list`)).status, 200, 'reports still listed');
});
