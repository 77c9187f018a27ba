/**
 * Report downloads against the simulator: a body cut at several offsets, by a reset or a clean early end,
 * with and without Range support, with and without Content-Length, still ends byte-identical (SHA-256) to
 * the generator's bytes. And the slot of a download is held until its body is read or dropped.
 */
import t from 'tap';
import { reportDigest, resolveScenario, startSimulator, type Simulator } from '@qpc/qualys-sim';
import { createQualysClient, type QualysClient } from '../src/index.ts';
import { drain, FAST, sha256Of, type Teardown } from './helpers.ts';

const SCENARIO = {
  user: { login: 'demo', password: 'demo' },
  pcModule: true,
  launchFinishAfterMs: 1000,
  reports: [
    { id: '2001', title: 'QPC-T canonical', seed: 7, size: { hosts: 30, controls: 10, instancesPerControl: 2, policies: 1 } },
    {
      id: '2002',
      title: 'QPC-T comments and BOM',
      seed: 8,
      size: { hosts: 30, controls: 10, instancesPerControl: 2, policies: 1 },
      variants: { bom: true, comments: true, root: 'POLICY_REPORT' as const },
    },
  ],
};

async function setup(t: Teardown): Promise<{ s: Simulator; c: QualysClient }> {
  const s = await startSimulator({ scenario: resolveScenario(SCENARIO) });
  t.teardown(() => s.close());
  const c = createQualysClient({ url: s.url, username: 'demo', password: 'demo', allowHttp: true, limits: { ...FAST, maxBodyRetries: 4 } });
  t.teardown(() => c.close());
  return { s, c };
}

t.test('a cut download ends byte-identical to the source', async (t) => {
  const { s, c } = await setup(t);
  let cases = 0;
  for (const id of ['2001', '2002']) {
    const spec = s.scenario.reports.find((r) => r.id === id);
    if (!spec) throw new Error('no report');
    const expected = await reportDigest(spec);
    t.ok(expected.bytes > 100_000, `report ${id}: ${expected.bytes} bytes`);
    const offsets = [0, 1, Math.floor(expected.bytes / 2), expected.bytes - 10];
    for (const mode of ['resetAtByte', 'truncateAtByte'] as const)
      for (const range of [true, false])
        for (const contentLength of [true, false])
          for (const at of offsets) {
            const label = `${id} ${mode}=${at} range=${range} contentLength=${contentLength}`;
            s.setFaults({ [mode]: at, range, contentLength, times: 1 }, id);
            const before = s.stats().fetches[id] ?? 0;
            const d = await c.fetchReport(id);
            const got = await sha256Of(d.body);
            t.equal(got.sha256, expected.sha256, `${label}: same SHA-256`);
            t.equal(got.bytes, expected.bytes, `${label}: same length`);
            t.equal(d.progress.sha256, expected.sha256);
            t.equal((s.stats().fetches[id] ?? 0) - before, 2, `${label}: fetched twice`);
            if (at > 1) {
              if (range) t.equal(d.progress.resumes, 1, `${label}: resumed with Range`);
              else t.equal(d.progress.restarts, 1, `${label}: restarted and replayed`);
            }
            cases++;
          }
  }
  s.setFaults(null);
  t.equal(cases, 64);
  t.ok(c.stats().resumes >= 20 && c.stats().restarts >= 20, JSON.stringify(c.stats()));
});

t.test('several cuts in one download, resumed each time', async (t) => {
  const { s, c } = await setup(t);
  const spec = s.scenario.reports.find((r) => r.id === '2001');
  if (!spec) throw new Error('no report');
  const expected = await reportDigest(spec);
  s.setFaults({ resetAtByte: 40_000, times: 3 }, '2001');
  const d = await c.fetchReport('2001');
  t.equal((await sha256Of(d.body)).sha256, expected.sha256);
  t.equal(d.progress.resumes, 3);
  t.equal(d.etag?.startsWith('"'), true, 'a strong ETag');
  t.equal(d.contentLength, expected.bytes);
  t.match(d.contentType, /xml/);
});

t.test('a body cut more often than allowed fails with a retryable error', async (t) => {
  const { s, c } = await setup(t);
  s.setFaults({ resetAtByte: 0, times: 50 }, '2001');
  const err = await c.fetchReport('2001').then(
    async (d) => (await drain(d.body)).error,
    (e: unknown) => e,
  );
  t.match(err, { retryable: true });
  t.ok(['QUALYS_CONNECTION_RESET', 'QUALYS_TRUNCATED'].includes((err as { code: string }).code));
  s.setFaults({ resetAtByte: 1000, range: false, times: 50 }, '2001');
  const d = await c.fetchReport('2001');
  const { got, error } = await drain(d.body);
  t.match(error, { code: 'QUALYS_TRUNCATED', retryable: true });
  t.equal(got.length, 1000, 'nothing but the first 1000 bytes emitted, once');
});

t.test('the slot of a download is held until its body is read or dropped', async (t) => {
  const { s } = await setup(t);
  s.setLimits({ concurrency: 1 });
  const c = createQualysClient({ url: s.url, username: 'demo', password: 'demo', allowHttp: true, limits: { ...FAST, concurrency: 1 } });
  t.teardown(() => c.close());
  const a = await c.fetchReport('2001');
  let bEnded = 0;
  const b = c.fetchReport('2002').then((d) => {
    bEnded = Date.now();
    return d;
  });
  await new Promise((r) => setTimeout(r, 300));
  t.equal(bEnded, 0, 'the second fetch waits while the first body is unread');
  await sha256Of(a.body);
  const aEnded = Date.now();
  const bd = await b;
  t.ok(bEnded >= aEnded);
  // dropping a body half-read frees the slot too
  const it = bd.body[Symbol.asyncIterator]();
  await it.next();
  bd.body.destroy();
  const t0 = Date.now();
  const again = await c.fetchReport('2001');
  t.ok(Date.now() - t0 < 1000, 'slot freed by destroy');
  await sha256Of(again.body);
  t.equal(s.stats().maxConcurrent, 1);
  t.equal(s.stats().conflicts409, 0);
});

t.test('many concurrent slow downloads within the limit, no 409 (local budget)', async (t) => {
  const { s } = await setup(t);
  s.setLimits({ concurrency: 2 });
  s.setFaults({ latencyMs: 80 });
  const c = createQualysClient({ url: s.url, username: 'demo', password: 'demo', allowHttp: true, limits: FAST });
  t.teardown(() => c.close());
  const results = await Promise.all(
    Array.from({ length: 8 }, async (_, i) => {
      const d = await c.fetchReport(i % 2 ? '2001' : '2002');
      return (await sha256Of(d.body)).bytes;
    }),
  );
  t.equal(results.length, 8);
  t.equal(s.stats().maxConcurrent, 2);
  t.equal(s.stats().conflicts409, 0);
});

t.test('aborting a download stops it and frees its slot', async (t) => {
  const { s } = await setup(t);
  s.setLimits({ concurrency: 1 });
  const c = createQualysClient({ url: s.url, username: 'demo', password: 'demo', allowHttp: true, limits: { ...FAST, concurrency: 1 } });
  t.teardown(() => c.close());
  const ac = new AbortController();
  const d = await c.fetchReport('2001', { signal: ac.signal });
  const it = d.body[Symbol.asyncIterator]();
  t.equal((await it.next()).done, false);
  ac.abort(new Error('stop'));
  const rest = await drain({ [Symbol.asyncIterator]: () => it });
  t.ok(rest.error, 'the body fails once aborted');
  t.ok(d.progress.bytes < 529_018, 'stopped before the end');
  const t0 = Date.now();
  const again = await c.fetchReport('2002');
  t.ok(Date.now() - t0 < 1000, 'slot freed');
  t.ok((await sha256Of(again.body)).bytes > 0);
  await t.rejects(c.fetchReport('2001', { signal: AbortSignal.abort() }));
});
