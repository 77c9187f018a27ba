/**
 * A canary password must appear in no error (message, stack, causes, JSON, inspect) and in no log line,
 * on success and on every failure path.
 */
import net from 'node:net';
import { inspect } from 'node:util';
import t from 'tap';
import { resolveScenario, startSimulator } from '@qpc/qualys-sim';
import { createQualysClient, type QualysClientOptions } from '../src/index.ts';
import { captureLogger, drain, FAST, httpServer } from './helpers.ts';

const CANARY = 'Canary-7f3a9c-Pw';
const USER = 'canary_user';
const BASIC = Buffer.from(`${USER}:${CANARY}`).toString('base64');
const BASIC_WRONG = Buffer.from(`${USER}:${CANARY}-wrong`).toString('base64');

function leaks(text: string): boolean {
  return text.includes(CANARY) || text.includes(BASIC) || text.includes(BASIC_WRONG) || /basic [a-z0-9+/=]{8,}/i.test(text);
}

function everything(err: unknown): string {
  const parts = [inspect(err, { depth: 10, showHidden: true }), JSON.stringify(err) ?? ''];
  let e: unknown = err;
  for (let i = 0; i < 6 && e instanceof Error; i++) {
    parts.push(e.message, e.stack ?? '', String(e));
    e = e.cause;
  }
  return parts.join('\n');
}

t.test('the password never reaches an error or a log line', async (t) => {
  const sim = await startSimulator({
    scenario: resolveScenario({
      user: { login: USER, password: CANARY },
      reports: [{ id: '3001', title: 'QPC-CANARY', seed: 3, size: { hosts: 10, controls: 5, instancesPerControl: 1, policies: 1 } }],
    }),
  });
  t.teardown(() => sim.close());
  const { logger, lines } = captureLogger();
  const make = (o: Partial<QualysClientOptions> = {}) => {
    const c = createQualysClient({ url: sim.url, username: USER, password: CANARY, allowHttp: true, logger, ...o, limits: { ...FAST, maxAttempts: 2, ...o.limits } });
    t.teardown(() => c.close());
    return c;
  };
  const errors: unknown[] = [];
  const fail = async (p: Promise<unknown>) => {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    t.ok(e, 'it failed');
    errors.push(e);
  };

  // success paths, at debug level
  const c = make();
  await c.checkAccess('QPC');
  const d = await c.fetchReport('3001');
  t.equal((await drain(d.body)).error, undefined);
  t.notOk(leaks(inspect(c, { depth: 10, showHidden: true })), 'the client object shows no credentials');

  // failure paths
  await fail(make({ password: `${CANARY}-wrong` }).checkAccess('QPC'));
  sim.setFaults({ htmlPage: true });
  await fail(c.listReports());
  sim.setFaults({ simpleReturn200: { code: 1999, text: 'denied' } });
  await fail(c.listReports());
  sim.setFaults({ errors5xx: 5 });
  await fail(c.about());
  sim.setFaults({ genericReturn: true });
  await c.about(); // retried once
  sim.setFaults({ resetAtByte: 5000, range: false, times: 20 }, '3001');
  await fail(c.fetchReport('3001').then(async (x) => {
    const r = await drain(x.body);
    if (r.error) throw r.error;
  }));
  sim.setFaults(null, '3001');
  sim.setFaults(null);
  await fail(make({ url: sim.url.replace('http:', 'https:') }).about());
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  await fail(make({ url: `http://127.0.0.1:${port}` }).about());
  const redirect = await httpServer(t, (_req, res) => {
    res.writeHead(301, { location: `https://${USER}:${CANARY}@elsewhere.example/` });
    res.end();
  });
  await fail(make({ url: redirect.url }).about());
  const silent = await httpServer(t, () => undefined);
  await fail(make({ url: silent.url, timeouts: { headersMs: 100 } }).about());
  try {
    createQualysClient({ url: `https://${USER}:${CANARY}@qualysapi.example`, username: USER, password: CANARY });
  } catch (e) {
    errors.push(e);
  }

  t.equal(errors.length, 10);
  const codes = errors.map((e) => (e as { code?: string }).code);
  t.same(codes, [
    'QUALYS_BAD_CREDENTIALS',
    'QUALYS_HTML_PAGE',
    'QUALYS_API_ERROR',
    'QUALYS_HTTP_ERROR',
    'QUALYS_TRUNCATED',
    'QUALYS_TLS',
    'QUALYS_UNREACHABLE',
    'QUALYS_REDIRECT',
    'QUALYS_TIMEOUT',
    'QUALYS_INVALID_OPTIONS',
  ]);
  for (const e of errors) t.notOk(leaks(everything(e)), `no credentials in ${(e as { code?: string }).code}`);
  t.ok(lines.length > 10, `${lines.length} log lines at debug level`);
  t.ok(lines.some((l) => l.includes('qualys call')));
  t.ok(lines.some((l) => l.includes('will be retried')));
  t.ok(lines.some((l) => l.includes('cut short')));
  const leaking = lines.filter(leaks);
  t.same(leaking, [], 'no log line carries the password or the Authorization header');
});
