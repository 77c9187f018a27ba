import t from 'tap';
import { ReportError, parseReport } from '@qpc/pc-report';
import { Malformer } from '../src/control.ts';
import { reportDigest, resolveScenario, DEMO_SCENARIO, startSimulator, type Simulator } from '../src/index.ts';
import { call, sha256, simple, STD } from './http-helper.ts';

const FETCH = '/api/2.0/fo/report/?action=fetch&id=';
const LIST = '/api/2.0/fo/report/?action=list';

// a smaller scenario keeps these fast
const scenario = () =>
  resolveScenario({
    reports: [
      { id: 1, title: 'QPC-T big', size: { hosts: 60, controls: 20, instancesPerControl: 3, policies: 1 } },
      { id: 2, title: 'QPC-T small', size: { hosts: 5, controls: 5, instancesPerControl: 1, policies: 1 } },
      // bigger than the socket buffers, so a paused reader keeps the call running
      { id: 3, title: 'QPC-T large', size: { hosts: 400, controls: 20, instancesPerControl: 3, policies: 1 } },
    ],
  });

async function sim(t: { teardown(fn: () => unknown): void }): Promise<Simulator> {
  const s = await startSimulator({ port: 0, scenario: scenario() });
  t.teardown(() => s.close());
  return s;
}

t.test('latency delays the answer', async (t) => {
  const s = await sim(t);
  s.setFaults({ latencyMs: 200 });
  const t0 = Date.now();
  t.equal((await call(s.url, '/msp/about.php')).status, 200);
  t.ok(Date.now() - t0 >= 190, 'waited');
  s.setFaults(null);
  const t1 = Date.now();
  await call(s.url, '/msp/about.php');
  t.ok(Date.now() - t1 < 150, 'cleared');
});

t.test('errors5xx, conflicts409 (with and without ToWait), GENERIC_RETURN, HTML page, SIMPLE_RETURN under 200', async (t) => {
  const s = await sim(t);
  s.setFaults({ errors5xx: 2 });
  t.equal((await call(s.url, LIST)).status, 503);
  t.equal((await call(s.url, LIST)).status, 503);
  t.equal((await call(s.url, LIST)).status, 200, 'counted down');
  s.setFaults({ conflicts409: 1, toWaitSec: 3 });
  const c = await call(s.url, LIST);
  t.equal(c.status, 409);
  t.equal(simple(c.text()).code, '1965');
  t.equal(c.headers['x-ratelimit-towait-sec'], '3');
  s.setFaults({ conflicts409: 1, toWaitSec: -1 });
  const c2 = await call(s.url, LIST);
  t.equal(c2.status, 409);
  t.equal(c2.headers['x-ratelimit-towait-sec'], undefined, 'header absent');
  t.ok(c2.headers['x-concurrency-limit-limit']);
  t.equal(s.stats().conflicts409, 2);
  s.setFaults({ genericReturn: true });
  const g = await call(s.url, LIST);
  t.equal(g.status, 500);
  t.match(g.text(), /<GENERIC_RETURN>[\s\S]*Internal error/);
  s.setFaults({ htmlPage: true });
  const h = await call(s.url, LIST);
  t.equal(h.status, 200);
  t.match(h.headers['content-type'], /text\/html/);
  t.match(h.text(), /<html>/);
  s.setFaults({ simpleReturn200: { code: 999, text: 'Something odd' } });
  const sr = await call(s.url, LIST);
  t.equal(sr.status, 200);
  t.same(simple(sr.text()), { root: 'SIMPLE_RETURN', code: '999', text: 'Something odd' });
  t.match((await call(s.url, LIST)).text(), /REPORT_LIST_OUTPUT/, 'one-shot faults are spent');
});

t.test('faults given for one report apply only to calls about it', async (t) => {
  const s = await sim(t);
  s.setFaults({ errors5xx: 1 }, '2');
  t.equal((await call(s.url, `${FETCH}1`)).status, 200);
  t.equal((await call(s.url, LIST)).status, 200);
  t.equal((await call(s.url, `${FETCH}2`)).status, 503);
  t.equal((await call(s.url, `${FETCH}2`)).status, 200);
});

t.test('reset at byte N: N bytes then a broken connection, `times` fetches', async (t) => {
  const s = await sim(t);
  const d = await reportDigest(s.scenario.reports[0]!);
  s.setFaults({ resetAtByte: 100_000, times: 2 });
  for (let i = 0; i < 2; i++) {
    const a = await call(s.url, `${FETCH}1`);
    t.equal(a.status, 200);
    t.equal(Number(a.headers['content-length']), d.bytes);
    t.equal(a.body.length, 100_000);
    t.notOk(a.complete, 'cut');
  }
  const ok = await call(s.url, `${FETCH}1`);
  t.equal(sha256(ok.body), d.sha256, 'third fetch whole');
});

t.test('truncate at byte N with and without Content-Length', async (t) => {
  const s = await sim(t);
  const d = await reportDigest(s.scenario.reports[0]!);
  s.setFaults({ truncateAtByte: 54_321 });
  const a = await call(s.url, `${FETCH}1`);
  t.equal(Number(a.headers['content-length']), d.bytes);
  t.equal(a.headers.connection, 'close');
  t.equal(a.body.length, 54_321);
  t.notOk(a.complete, 'declared length not reached: the client sees it');
  s.setFaults({ truncateAtByte: 54_321, contentLength: false });
  const b = await call(s.url, `${FETCH}1`);
  t.equal(b.headers['content-length'], undefined);
  t.equal(b.headers['transfer-encoding'], 'chunked');
  t.equal(b.body.length, 54_321);
  t.ok(b.complete, 'ends cleanly: only the XML shows it is cut');
  t.equal(b.error, null);
  t.equal(b.body.toString('latin1'), (await call(s.url, `${FETCH}1`)).body.subarray(0, 54_321).toString('latin1'));
});

t.test('Range: 206 from byte N, byte-identical resume after a reset, If-Range, and range off', async (t) => {
  const s = await sim(t);
  const d = await reportDigest(s.scenario.reports[0]!);
  const whole = await call(s.url, `${FETCH}1`);
  const etag = whole.headers.etag as string;
  for (const cutAt of [1, 65_536, 777_777, d.bytes - 1]) {
    s.setFaults({ resetAtByte: cutAt });
    const first = await call(s.url, `${FETCH}1`);
    t.equal(first.body.length, cutAt);
    const rest = await call(s.url, `${FETCH}1`, { headers: { 'X-Requested-With': 'x', Authorization: `Basic ${Buffer.from('demo:demo').toString('base64')}`, Range: `bytes=${cutAt}-`, 'If-Range': etag } });
    t.equal(rest.status, 206);
    t.equal(rest.headers['content-range'], `bytes ${cutAt}-${d.bytes - 1}/${d.bytes}`);
    t.equal(Number(rest.headers['content-length']), d.bytes - cutAt);
    t.equal(rest.headers.etag, etag);
    t.equal(sha256(Buffer.concat([first.body, rest.body])), d.sha256, `resumed at ${cutAt}`);
  }
  const H = { 'X-Requested-With': 'x', Authorization: `Basic ${Buffer.from('demo:demo').toString('base64')}` };
  const stale = await call(s.url, `${FETCH}1`, { headers: { ...H, Range: 'bytes=10-', 'If-Range': '"other"' } });
  t.equal(stale.status, 200, 'If-Range mismatch: whole body');
  t.equal(sha256(stale.body), d.sha256);
  const past = await call(s.url, `${FETCH}1`, { headers: { ...H, Range: `bytes=${d.bytes}-` } });
  t.equal(past.status, 416);
  s.setFaults({ range: false });
  const off = await call(s.url, `${FETCH}1`, { headers: { ...H, Range: 'bytes=10-' } });
  t.equal(off.status, 200);
  t.equal(off.headers.etag, undefined);
  t.equal(sha256(off.body), d.sha256);
});

t.test('malformAtByte: same length and root end, one closing tag renamed from byte N on, in every answer', async (t) => {
  const s = await sim(t);
  const d = await reportDigest(s.scenario.reports[0]!);
  const whole = (await call(s.url, `${FETCH}1`)).body;
  const N = Math.floor(d.bytes / 2);
  s.setFaults({ malformAtByte: N }, '1');
  const a = await call(s.url, `${FETCH}1`);
  t.equal(a.status, 200);
  t.equal(Number(a.headers['content-length']), d.bytes, 'the declared length is the real one');
  t.equal(a.body.length, d.bytes);
  t.ok(a.complete);
  const diff = [...a.body.keys()].filter((i) => a.body[i] !== whole[i]);
  t.equal(diff.length, 1, 'one byte differs');
  const p = diff[0]!;
  t.ok(p >= N + 2, 'at or after byte N');
  t.equal(a.body.subarray(p - 2, p).toString('latin1'), '</', 'the first letter of a closing tag');
  t.equal(whole.indexOf('</', N), p - 2, 'the first closing tag from byte N on');
  t.ok(a.body.subarray(-400).toString('utf8').includes('</COMPLIANCE_POLICY_REPORT>'), 'the root is still closed at the end');
  // a parser reads records up to there, then refuses the document
  let findings = 0;
  let error: unknown = null;
  try {
    for await (const batch of parseReport((async function* () { yield a.body; })(), { batchSize: 10 })) findings += batch.filter((r) => r.type === 'finding').length;
  } catch (err) {
    error = err;
  }
  t.ok(error instanceof ReportError && error.code === 'MALFORMED_XML', `MALFORMED_XML (${String(error)})`);
  t.ok(findings > 0, `records before the break were parsed (${findings})`);
  // a Range answer is a slice of the same broken body
  const from = p - 100;
  const rest = await call(s.url, `${FETCH}1`, { headers: { ...STD, Range: `bytes=${from}-`, 'If-Range': a.headers.etag as string } });
  t.equal(rest.status, 206);
  t.ok(rest.body.equals(a.body.subarray(from)), 'the resumed part carries the same broken byte');
  t.ok((await call(s.url, `${FETCH}1`)).body.equals(a.body), 'every answer while set');
  t.ok((await call(s.url, `${FETCH}2`)).complete, 'other reports untouched');
  s.setFaults(null, '1');
  t.equal(sha256((await call(s.url, `${FETCH}1`)).body), d.sha256, 'cleared');
});

t.test('Malformer: skips CDATA sections, works across chunk boundaries of one byte', async (t) => {
  const xml = '<R><A><![CDATA[</B> ]]] ]]></A><C>x</C></R>';
  const m = new Malformer(0);
  const out = Buffer.concat([...Buffer.from(xml)].map((c) => m.apply(Buffer.from([c])))).toString('latin1');
  t.equal(out, '<R><A><![CDATA[</B> ]]] ]]></X><C>x</C></R>', 'the </A> after the CDATA is renamed, not the </B> inside it');
  t.equal(m.malformedAt, xml.indexOf('</A>') + 2);
  const m2 = new Malformer(xml.indexOf('<C>'));
  t.equal(m2.apply(Buffer.from(xml)).toString('latin1'), xml.replace('</C>', '</X>'));
  const m3 = new Malformer(0);
  t.equal(m3.apply(Buffer.from('<X></X>')).toString('latin1'), '<X></Y>', 'X becomes Y');
  const m4 = new Malformer(1000);
  t.equal(m4.apply(Buffer.from(xml)).toString('latin1'), xml, 'nothing from byte N on: unchanged');
  t.equal(m4.malformedAt, null);
});

t.test('changingEtag: a new ETag per answer, so a resume with If-Range gets the whole body again', async (t) => {
  const s = await sim(t);
  const d = await reportDigest(s.scenario.reports[0]!);
  s.setFaults({ changingEtag: true, resetAtByte: 50_000, times: 2 }, '1');
  const first = await call(s.url, `${FETCH}1`);
  t.notOk(first.complete, 'cut');
  const etag = first.headers.etag as string;
  t.match(etag, /^"[0-9a-f]+-v\d+"$/, 'a strong ETag');
  const again = await call(s.url, `${FETCH}1`, { headers: { ...STD, Range: 'bytes=50000-', 'If-Range': etag } });
  t.equal(again.status, 200, 'If-Range does not match: 200 from byte 0');
  t.not(again.headers.etag, etag, 'another ETag');
  t.equal(again.body.length, 50_000, 'cut again (times: 2)');
  const third = await call(s.url, `${FETCH}1`);
  t.equal(sha256(third.body), d.sha256, 'the bytes are the report');
  t.not(third.headers.etag, again.headers.etag);
  s.setFaults(null, '1');
  const a = await call(s.url, `${FETCH}1`);
  const b = await call(s.url, `${FETCH}1`);
  t.equal(a.headers.etag, b.headers.etag, 'cleared: one ETag again');
});

t.test('bytesPerSecond: the body comes at about that rate, whole', async (t) => {
  const s = await sim(t);
  const d = await reportDigest(s.scenario.reports[1]!);
  const fast = Date.now();
  await call(s.url, `${FETCH}2`);
  const fastMs = Date.now() - fast;
  const rate = Math.ceil(d.bytes / 1.5); // about 1.5 s for the whole report
  s.setFaults({ bytesPerSecond: rate }, '2');
  const t0 = Date.now();
  const slow = await call(s.url, `${FETCH}2`);
  const ms = Date.now() - t0;
  t.equal(sha256(slow.body), d.sha256, 'the bytes are the report');
  t.ok(ms >= 1_200, `${d.bytes} bytes at ${rate} B/s took ${ms} ms (unthrottled: ${fastMs} ms)`);
  s.setFaults(null, '2');
});

t.test('concurrency limit: a call runs until its body is sent; over the limit answers 409 1960', async (t) => {
  const s = await sim(t);
  s.setLimits({ concurrency: 2 });
  s.setFaults({ latencyMs: 250 });
  const answers = await Promise.all([0, 1, 2, 3].map((i) => new Promise((r) => setTimeout(r, i * 20)).then(() => call(s.url, LIST))));
  t.same(answers.map((a) => a.status).sort(), [200, 200, 409, 409]);
  const refused = answers.find((a) => a.status === 409)!;
  t.equal(simple(refused.text()).code, '1960');
  t.equal(refused.headers['x-concurrency-limit-limit'], '2');
  t.equal(refused.headers['x-concurrency-limit-running'], '3');
  t.ok(Number(refused.headers['x-ratelimit-towait-sec']) >= 1);
  const st = s.stats();
  t.equal(st.conflicts409, 2);
  t.ok(st.maxConcurrent >= 3, 'overstepping shows in maxConcurrent');
  t.equal(st.running, 0);
  s.setFaults(null);
  // a slow reader keeps its fetch running
  s.setLimits({ concurrency: 1 });
  const slow = call(s.url, `${FETCH}3`, { pauseMs: 400 });
  await new Promise((r) => setTimeout(r, 150));
  t.equal(s.stats().running, 1, 'the paused download still runs');
  t.equal((await call(s.url, LIST)).status, 409);
  t.equal((await slow).status, 200);
  await new Promise((r) => setTimeout(r, 20));
  t.equal((await call(s.url, LIST)).status, 200, 'free again once the body was sent');
});

t.test('rate limit: calls per window, then 409 1965 with the seconds to wait', async (t) => {
  const s = await sim(t);
  s.setLimits({ rateLimit: 3, windowSec: 60 });
  const rem: string[] = [];
  for (let i = 0; i < 3; i++) {
    const a = await call(s.url, '/msp/about.php');
    t.equal(a.status, 200);
    rem.push(a.headers['x-ratelimit-remaining'] as string);
  }
  t.same(rem, ['2', '1', '0']);
  const a = await call(s.url, '/msp/about.php');
  t.equal(a.status, 409);
  t.equal(simple(a.text()).code, '1965');
  t.equal(a.headers['x-ratelimit-remaining'], '0');
  t.ok(Number(a.headers['x-ratelimit-towait-sec']) > 50);
  t.equal(a.headers['x-ratelimit-window-sec'], '60');
  s.setLimits({ windowSec: 1 });
  t.equal((await call(s.url, '/msp/about.php')).status, 200, 'a new window');
  t.same(Object.keys(s.stats().byPath), ['/msp/about.php']);
});

t.test('the demo scenario is the default', async (t) => {
  const s = await startSimulator();
  t.teardown(() => s.close());
  t.equal(s.scenario.user.login, 'demo');
  t.same(s.scenario.reports.map((r) => r.id), DEMO_SCENARIO.reports.map((r) => String(r.id)));
});
