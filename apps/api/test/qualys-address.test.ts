/**
 * Where plain http is refused (production), Test Credentials and saved connector URLs never reach a
 * loopback, link-local (169.254.169.254), metadata or, unless allowed, private address; a real TCP
 * listener on loopback counts the connections that reach it. And Test Credentials answers a closed
 * port and a silent one alike, so it cannot map which ports are open.
 */
import t from 'tap';
import net from 'node:net';
import { startApi } from './helpers.ts';
import { createClientProbe } from '../src/qualys-probe-client.ts';

const conns = { n: 0 };
const open: net.Socket[] = [];
const listener = net.createServer((s) => {
  conns.n++;
  open.push(s); // silent: never answers, never closes
});
await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise<void>((resolve) => {
  for (const s of open) s.destroy();
  listener.close(() => resolve());
}));
const port = (listener.address() as net.AddressInfo).port;

const probe = createClientProbe({ timeoutMs: 10_000 });
const api = await startApi(t, { qualys: probe });
const privateApi = await startApi(t, { qualys: probe, allowPrivateQualys: true });
const httpApi = await startApi(t, { allowHttp: true, qualys: probe });

const connector = (url: string, name = 'c') => ({ name, url, username: 'u', password: 'p', network: 'n', reportTitlePrefix: 'P' });

t.test('refused hosts: saving, editing and testing answer 400 URL_REFUSED, and nothing is dialled', async (t) => {
  const cases: [string, RegExp][] = [
    [`https://127.0.0.1:${port}`, /loopback/],
    [`https://localhost:${port}`, /localhost \((127\.0\.0\.1|::1)\) is a loopback address/],
    [`https://[::ffff:127.0.0.1]:${port}`, /loopback/],
    ['https://169.254.169.254', /link-local/],
    ['https://[fd00:ec2::254]', /metadata/],
    ['https://0.0.0.0', /unspecified/],
    ['https://10.0.0.5', /private address \(allowed only with QPC_ALLOW_PRIVATE_QUALYS=1\)/],
  ];
  for (const [url, why] of cases) {
    const c = await api.call('POST', '/api/connectors', { body: connector(url) });
    t.equal(c.status, 400, `create ${url}`);
    t.equal(c.json?.error?.code, 'URL_REFUSED');
    t.match(c.json?.error?.message, /^url: /);
    t.match(c.json?.error?.message, why);
    const before = await api.call('POST', '/api/connectors/test', { body: { url, username: 'u', password: 'p', reportTitlePrefix: 'P' } });
    t.equal(before.status, 400, `test ${url}`);
    t.equal(before.json?.error?.code, 'URL_REFUSED');
  }
  const ok = await api.call('POST', '/api/connectors', { body: connector('https://64.39.96.1', 'public') });
  t.equal(ok.status, 201, 'a public address is saved');
  const edit = await api.call('PATCH', `/api/connectors/${ok.json.id}`, { body: { url: `https://localhost:${port}`, password: 'p' } });
  t.equal(edit.status, 400);
  t.equal(edit.json.error.code, 'URL_REFUSED');
  const test = await api.call('POST', `/api/connectors/${ok.json.id}/test`, { body: { url: 'https://169.254.169.254', password: 'p' } });
  t.equal(test.status, 400);
  t.equal(test.json.error.code, 'URL_REFUSED');
  t.equal(conns.n, 0, 'no connection reached the loopback listener');
});

t.test('a refused URL saved before the check: Test Credentials does not dial it', async (t) => {
  const c = await api.call('POST', '/api/connectors', { body: connector('https://64.39.96.1', 'old') });
  await api.deps.store.col.connectors.updateOne({ _id: c.json.id }, { $set: { url: `https://localhost:${port}` } });
  // the password binding refuses first (the URL changed behind the API); a new password bound to it:
  await api.deps.store.col.connectors.updateOne({ _id: c.json.id }, { $unset: { passwordFor: '' }, $set: { password: api.deps.secrets.encrypt('p', c.json.id) } });
  const r = await api.call('POST', `/api/connectors/${c.json.id}/test`, { body: {} });
  t.equal(r.status, 200);
  t.equal(r.json.ok, false);
  t.equal(r.json.error.code, 'QUALYS_ADDRESS_REFUSED', r.text);
  t.equal(conns.n, 0, 'nothing dialled');
});

t.test('QPC_ALLOW_PRIVATE_QUALYS=1 allows private addresses, never loopback or metadata', async (t) => {
  t.equal((await privateApi.call('POST', '/api/connectors', { body: connector('https://10.0.0.5', 'private') })).status, 201);
  t.equal((await privateApi.call('POST', '/api/connectors', { body: connector('https://[fd12::5]', 'ula') })).status, 201);
  for (const url of [`https://127.0.0.1:${port}`, 'https://169.254.169.254']) {
    const r = await privateApi.call('POST', '/api/connectors', { body: connector(url, 'x') });
    t.equal(r.status, 400, url);
    t.equal(r.json.error.code, 'URL_REFUSED');
  }
});

t.test('plain http (tests, simulator): loopback stays allowed', async (t) => {
  const r = await httpApi.call('POST', '/api/connectors', { body: connector(`http://127.0.0.1:${port}`, 'loop') });
  t.equal(r.status, 201, r.text);
});

t.test('a closed port and a silent one answer the same code and message', async (t) => {
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const body = (p: number) => ({ url: `http://127.0.0.1:${p}`, username: 'u', password: 'p', reportTitlePrefix: 'P' });
  const [a, b] = await Promise.all([
    httpApi.call('POST', '/api/connectors/test', { body: body(closedPort) }),
    httpApi.call('POST', '/api/connectors/test', { body: body(port) }),
  ]);
  t.equal(a.json.ok, false);
  t.equal(b.json.ok, false);
  t.equal(a.json.error.code, 'QUALYS_UNREACHABLE', a.text);
  t.equal(b.json.error.code, 'QUALYS_UNREACHABLE', b.text);
  const shape = (m: string) => m.replace(/:\d+/, ':PORT');
  t.equal(shape(a.json.error.message), shape(b.json.error.message), 'one message');
  t.notMatch(a.text, /ECONNREFUSED|refused/i);
});
