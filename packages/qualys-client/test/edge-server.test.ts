/**
 * Cases the simulator cannot produce, on small real HTTP servers: redirects, a body that changes between
 * fetches, a server answering 206 with the wrong range or a new ETag, a server that never answers.
 */
import t from 'tap';
import { Redis } from 'ioredis';
import { createQualysClient, QualysError } from '../src/index.ts';
import { drain, FAST, httpServer, sha256 } from './helpers.ts';

const REPORT = Buffer.from(`<?xml version="1.0"?>\n<POLICY_REPORT>${'<HOST>h</HOST>'.repeat(20_000)}</POLICY_REPORT>\n`);
// the same length, different bytes from the start: what a regenerated report could look like
const OTHER = Buffer.from(REPORT.toString('latin1').replaceAll('<HOST>h', '<HOST>k'), 'latin1');

t.test('a redirect is an error naming the status, never followed', async (t) => {
  let followed = 0;
  const target = await httpServer(t, (_req, res) => {
    followed++;
    res.end('<REPORT_LIST_OUTPUT/>');
  });
  const { url } = await httpServer(t, (_req, res) => {
    res.writeHead(302, { location: `${target.url}/api/2.0/fo/report/?action=list` });
    res.end();
  });
  const c = createQualysClient({ url, username: 'u', password: 'p', allowHttp: true, limits: FAST });
  t.teardown(() => c.close());
  const err = await c.listReports().catch((e: unknown) => e);
  t.ok(err instanceof QualysError);
  t.equal((err as QualysError).code, 'QUALYS_REDIRECT');
  t.equal((err as QualysError).retryable, false);
  t.match((err as QualysError).message, /HTTP 302/);
  t.equal(followed, 0, 'the Location was never requested');
  t.equal(c.stats().calls, 1, 'not retried');
});

t.test('every call carries X-Requested-With and Basic auth', async (t) => {
  const seen: { xrw?: string; auth?: string }[] = [];
  const { url } = await httpServer(t, (req, res) => {
    seen.push({ xrw: req.headers['x-requested-with'] as string, auth: req.headers.authorization as string });
    res.setHeader('content-type', 'text/xml');
    res.end('<REPORT_LIST_OUTPUT><RESPONSE><REPORT_LIST/></RESPONSE></REPORT_LIST_OUTPUT>');
  });
  const c = createQualysClient({ url, username: 'ada', password: 's3cret', allowHttp: true });
  t.teardown(() => c.close());
  await c.listReports();
  await c.launchPolicyReport({ title: 'x', templateId: 1, policyId: 2 }).catch(() => undefined);
  t.equal(seen.length, 2);
  for (const s of seen) {
    t.ok(s.xrw && s.xrw.length > 0);
    t.equal(s.auth, `Basic ${Buffer.from('ada:s3cret').toString('base64')}`);
  }
});

t.test('a body that differs when fetched again is never spliced', async (t) => {
  t.equal(OTHER.length, REPORT.length);
  t.not(sha256(OTHER), sha256(REPORT));
  let n = 0;
  const { url } = await httpServer(t, (_req, res) => {
    n++;
    // no ETag, no Range: the client must restart from 0 and replay the prefix
    res.writeHead(200, { 'content-type': 'text/xml', 'content-length': REPORT.length });
    if (n === 1) {
      res.write(REPORT.subarray(0, 100_000));
      setTimeout(() => res.destroy(), 20);
    } else res.end(OTHER);
  });
  const c = createQualysClient({ url, username: 'u', password: 'p', allowHttp: true, limits: FAST });
  t.teardown(() => c.close());
  const d = await c.fetchReport('7');
  const { got, error } = await drain(d.body);
  t.ok(error instanceof QualysError);
  t.equal((error as QualysError).code, 'QUALYS_BODY_CHANGED');
  t.equal((error as QualysError).retryable, true);
  t.ok(got.length <= 100_000 && got.equals(REPORT.subarray(0, got.length)), 'only bytes of the first body were emitted');
});

t.test('a 206 with the wrong range falls back to a verified restart', async (t) => {
  let n = 0;
  const etag = '"v1"';
  const { url } = await httpServer(t, (req, res) => {
    n++;
    if (req.headers.range) {
      // claims a range that does not start where asked
      res.writeHead(206, { etag, 'content-range': `bytes 10-${REPORT.length - 1}/${REPORT.length}`, 'content-length': REPORT.length - 10 });
      res.end(REPORT.subarray(10));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/xml', etag, 'content-length': REPORT.length });
    if (n === 1) {
      res.write(REPORT.subarray(0, 150_000));
      setTimeout(() => res.destroy(), 20);
    } else res.end(REPORT);
  });
  const c = createQualysClient({ url, username: 'u', password: 'p', allowHttp: true, limits: FAST });
  t.teardown(() => c.close());
  const d = await c.fetchReport('7');
  const { got, error } = await drain(d.body);
  t.equal(error, undefined);
  t.equal(sha256(got), sha256(REPORT));
  t.equal(d.progress.resumes, 0);
  t.equal(d.progress.restarts, 1);
  t.equal(d.progress.sha256, sha256(REPORT));
  t.equal(n, 3, 'first answer, the refused 206, the restart');
});

t.test('a resume answered with a new ETag fails instead of splicing', async (t) => {
  let n = 0;
  const { url } = await httpServer(t, (req, res) => {
    n++;
    if (n === 1) {
      res.writeHead(200, { 'content-type': 'text/xml', etag: '"v1"', 'content-length': REPORT.length });
      res.write(REPORT.subarray(0, 50_000));
      setTimeout(() => res.destroy(), 20);
      return;
    }
    // If-Range does not match the new version: the whole new body, with its ETag
    t.equal(req.headers['if-range'], '"v1"');
    res.writeHead(200, { 'content-type': 'text/xml', etag: '"v2"', 'content-length': OTHER.length });
    res.end(OTHER);
  });
  const c = createQualysClient({ url, username: 'u', password: 'p', allowHttp: true, limits: FAST });
  t.teardown(() => c.close());
  const d = await c.fetchReport('7');
  const { got, error } = await drain(d.body);
  t.equal((error as QualysError).code, 'QUALYS_BODY_CHANGED');
  t.ok(got.equals(REPORT.subarray(0, got.length)));
});

t.test('a server that never answers times out, retried a bounded number of times', async (t) => {
  let n = 0;
  const { url } = await httpServer(t, () => {
    n++; // never answers
  });
  const c = createQualysClient({
    url,
    username: 'u',
    password: 'p',
    allowHttp: true,
    limits: { ...FAST, maxAttempts: 3 },
    timeouts: { headersMs: 150 },
  });
  t.teardown(() => c.close());
  const err = (await c.about().catch((e: unknown) => e)) as QualysError;
  t.equal(err.code, 'QUALYS_TIMEOUT');
  t.equal(err.retryable, true);
  t.equal(n, 3);
  t.equal(c.stats().retries, 2);
});

t.test('an HTML proxy page under 502 is retried as a server error', async (t) => {
  let n = 0;
  const { url } = await httpServer(t, (_req, res) => {
    n++;
    if (n === 1) {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><head><title>Bad Gateway</title></head><body>nginx</body></html>');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end('<ABOUT><WEB-VERSION>10.30</WEB-VERSION></ABOUT>');
  });
  const c = createQualysClient({ url, username: 'u', password: 'p', allowHttp: true, limits: FAST });
  t.teardown(() => c.close());
  const about = await c.about();
  t.equal(about.version, '10.30');
  t.equal(n, 2);
});

t.test('options are checked: https required unless allowed, no credentials in the URL', async (t) => {
  const codes = [
    () => createQualysClient({ url: 'http://qualysapi.example', username: 'u', password: 'p' }),
    () => createQualysClient({ url: 'https://u:p@qualysapi.example', username: 'u', password: 'p' }),
    () => createQualysClient({ url: 'not a url', username: 'u', password: 'p' }),
    () => createQualysClient({ url: 'https://qualysapi.example', username: 'u', password: '' }),
  ].map((f) => {
    try {
      f();
      return 'none';
    } catch (e) {
      return (e as QualysError).code;
    }
  });
  t.same(codes, ['QUALYS_INVALID_OPTIONS', 'QUALYS_INVALID_OPTIONS', 'QUALYS_INVALID_OPTIONS', 'QUALYS_INVALID_OPTIONS']);
});

t.test('X-RateLimit-ToWait-Sec on a 200 holds the next call without a 409', async (t) => {
  const times: number[] = [];
  const { url } = await httpServer(t, (_req, res) => {
    times.push(Date.now());
    res.writeHead(200, {
      'content-type': 'text/xml',
      'x-ratelimit-limit': '5',
      'x-ratelimit-window-sec': '60',
      'x-ratelimit-remaining': times.length === 1 ? '0' : '4',
      'x-ratelimit-towait-sec': times.length === 1 ? '1' : '0',
    });
    res.end('<ABOUT><WEB-VERSION>1</WEB-VERSION></ABOUT>');
  });
  const c = createQualysClient({ url, username: 'u', password: 'p', allowHttp: true, limits: FAST });
  t.teardown(() => c.close());
  await c.about();
  await c.about();
  t.equal(times.length, 2);
  t.ok((times[1] ?? 0) - (times[0] ?? 0) >= 950, `second call ${(times[1] ?? 0) - (times[0] ?? 0)} ms after the first`);
  t.equal(c.stats().conflicts409, 0);
  t.ok(c.stats().slotWaitSec >= 0.9);
});

t.test('a shared budget that cannot be reached is a retryable error of its own', async (t) => {
  let calls = 0;
  const { url } = await httpServer(t, (_req, res) => {
    calls++;
    res.end('<ABOUT/>');
  });
  const redis = new Redis({ port: 1, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  redis.on('error', () => undefined);
  t.teardown(() => redis.disconnect());
  const c = createQualysClient({ url, username: 'u', password: 'p', allowHttp: true, redis, limits: { ...FAST, maxAttempts: 2 } });
  t.teardown(() => c.close());
  const err = (await c.about().catch((e: unknown) => e)) as QualysError;
  t.equal(err.code, 'QUALYS_BUDGET_UNAVAILABLE');
  t.equal(err.retryable, true);
  t.equal(calls, 0, 'no call is made without a slot');
});

t.test('a 429 from a proxy waits Retry-After and retries', async (t) => {
  let n = 0;
  const { url } = await httpServer(t, (_req, res) => {
    n++;
    if (n === 1) {
      res.writeHead(429, { 'retry-after': '1' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end('<ABOUT><WEB-VERSION>2</WEB-VERSION></ABOUT>');
  });
  const c = createQualysClient({ url, username: 'u', password: 'p', allowHttp: true, limits: FAST });
  t.teardown(() => c.close());
  const t0 = Date.now();
  t.equal((await c.about()).version, '2');
  t.ok(Date.now() - t0 >= 950);
  t.equal(n, 2);
});
