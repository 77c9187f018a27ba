/**
 * The address policy of an https (production) client: loopback, link-local, metadata, unspecified and
 * reserved addresses are refused before any connection, private ones only when allowed; a host name is
 * refused when any address it resolves to is. A real TCP listener counts the connections that reach it.
 */
import net from 'node:net';
import t from 'tap';
import { addressKind, checkedAddresses, createQualysClient, QualysError, type AddressKind } from '../src/index.ts';
import { guardedLookup } from '../src/address-policy.ts';
import { fromNetworkError } from '../src/errors.ts';
import { FAST } from './helpers.ts';

const production = { restrict: true, allowPrivate: false };

t.test('address kinds (RFC 6890 and the cloud metadata addresses)', async (t) => {
  const cases: [string, AddressKind][] = [
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['100.100.100.200', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['64:ff9b::7f00:1', 'reserved'],
    ['10.1.2.3', 'private'],
    ['172.31.255.1', 'private'],
    ['192.168.0.10', 'private'],
    ['100.64.0.1', 'private'],
    ['fd12:3456::1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['64.39.96.1', 'public'],
    ['172.32.0.1', 'public'],
    ['2600:1f18::1', 'public'],
  ];
  for (const [ip, kind] of cases) t.equal(addressKind(ip), kind, ip);
});

/** A TCP listener on 127.0.0.1 that counts the connections it gets. */
async function listener(t: { teardown(fn: () => unknown): void }) {
  const state = { connections: 0 };
  const srv = net.createServer((s) => {
    state.connections++;
    s.destroy();
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => srv.close(() => resolve())));
  return { port: (srv.address() as net.AddressInfo).port, state };
}

const opts = { username: 'u', password: 'p', limits: FAST };

t.test('https client: loopback, metadata and private literals are refused before any connection', async (t) => {
  const { port, state } = await listener(t);
  for (const host of ['127.0.0.1', '[::1]', '[::ffff:127.0.0.1]', '169.254.169.254', '0.0.0.0', '10.0.0.1', '[fd00:ec2::254]']) {
    t.throws(() => createQualysClient({ ...opts, url: `https://${host}:${port}` }), { code: 'QUALYS_ADDRESS_REFUSED' }, host);
  }
  const c = createQualysClient({ ...opts, url: 'https://10.0.0.1', allowPrivate: true });
  await c.close();
  t.pass('a private address is accepted with allowPrivate');
  t.equal(state.connections, 0);
});

t.test('https client: a host name resolving to loopback is refused at connect, nothing reaches the listener', async (t) => {
  const { port, state } = await listener(t);
  const c = createQualysClient({ ...opts, url: `https://localhost:${port}` });
  const err = await c.listReports().then(
    () => undefined,
    (e: unknown) => e,
  );
  await c.close();
  t.ok(err instanceof QualysError, String(err));
  t.equal((err as QualysError).code, 'QUALYS_ADDRESS_REFUSED');
  t.match((err as QualysError).message, /localhost \((127\.0\.0\.1|::1)\) is a loopback address/);
  t.equal((err as QualysError).retryable, false, 'not retried');
  t.equal(state.connections, 0, 'no connection was made');
  // plain http (simulator, tests): loopback stays allowed
  const h = createQualysClient({ ...opts, url: `http://localhost:${port}`, allowHttp: true });
  await h.listReports().catch(() => undefined);
  await h.close();
  t.ok(state.connections > 0, 'the plain-http client connects');
});

t.test('every resolved address is checked; the socket gets only checked addresses', async (t) => {
  const answers = [
    [{ address: '64.39.96.1', family: 4 }, { address: '127.0.0.1', family: 4 }],
    [{ address: '64.39.96.1', family: 4 }],
  ];
  let call = 0;
  const resolve = async () => answers[Math.min(call++, answers.length - 1)]!;
  await t.rejects(checkedAddresses('qualys.example', production, resolve), { code: 'QUALYS_ADDRESS_REFUSED' }, 'one loopback among public addresses');
  t.same(await checkedAddresses('qualys.example', production, resolve), [{ address: '64.39.96.1', family: 4 }]);
  // the lookup hook: what the socket connects to is the list it checked
  const lookup = guardedLookup(production, async () => [{ address: '64.39.96.1', family: 4 }, { address: '2600:1f18::1', family: 6 }]);
  const got = await new Promise<unknown>((res, rej) =>
    lookup('qualys.example', { all: true }, ((e: Error | null, a: unknown) => (e ? rej(e) : res(a))) as never),
  );
  t.same(got, [{ address: '64.39.96.1', family: 4 }, { address: '2600:1f18::1', family: 6 }]);
  const v6 = await new Promise<unknown>((res, rej) => lookup('qualys.example', { family: 6 }, (e, a) => (e ? rej(e) : res(a))));
  t.equal(v6, '2600:1f18::1');
  const refused = guardedLookup(production, async () => [{ address: '169.254.169.254', family: 4 }]);
  const e = await new Promise<unknown>((res) => refused('metadata.example', {}, (err) => res(err)));
  t.match(e, { code: 'QUALYS_ADDRESS_REFUSED' });
});

t.test('a refused, unreachable or silent port reads the same (no port scan through the message)', async (t) => {
  const where = 'https://qualys.example/api/2.0/fo/report/';
  const errs = ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT'].map((code) =>
    fromNetworkError(Object.assign(new Error(`connect ${code} 10.0.0.1:443`), { code }), where),
  );
  for (const e of errs) {
    t.equal(e.code, 'QUALYS_UNREACHABLE');
    t.equal(e.message, errs[0]!.message, 'one message for all of them');
    t.notMatch(e.message, /ECONN|EHOST|ENET|TIMEDOUT|10\.0\.0\.1/);
  }
});
