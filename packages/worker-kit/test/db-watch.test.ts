/**
 * The database watch against the real MongoDB-wire server, the app's client reaching it through a TCP
 * proxy that the test cuts:
 * - a client that stays unusable while the database answers a new connection is found wedged and reopened,
 *   and works again;
 * - a database that is down for everyone is not a wedged client: the watch waits and warns once;
 * - a client that recovers before the limit is left alone, and the watch says the database is back.
 */
import t from 'tap';
import { Writable } from 'node:stream';
import { MongoClient } from 'mongodb';
import { TcpProxy, serviceUrls, waitFor, type Teardown } from '@qpc/testing';
import { createLogger, watchDatabase } from '../src/index.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function capture() {
  const lines: { msg: string; [k: string]: unknown }[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as { msg: string });
      cb();
    },
  });
  return { lines, logger: createLogger('db-watch-test', 'info', dest) };
}

async function proxiedClient(t: Teardown) {
  const direct = new URL(serviceUrls().mongoUrl);
  const proxy = await new TcpProxy({ host: direct.hostname, port: Number(direct.port || 27017) }).listen();
  const client = new MongoClient(`mongodb://127.0.0.1:${proxy.port}/qpc_db_watch`, { serverSelectionTimeoutMS: 300, connectTimeoutMS: 300 });
  await client.connect();
  t.teardown(async () => {
    await client.close().catch(() => undefined);
    await proxy.close();
  });
  return { proxy, client, directUrl: `mongodb://${direct.host}/qpc_db_watch`, proxiedUrl: `mongodb://127.0.0.1:${proxy.port}/qpc_db_watch` };
}

t.test('a client that cannot reach a database that answers others is reopened, and works again', async (t) => {
  const { proxy, client, directUrl } = await proxiedClient(t);
  const { lines, logger } = capture();
  const reopenedAt: number[] = [];
  // the client's path comes back just before the reopen: what stays wedged then is the client itself
  const reopen = async (c: MongoClient) => {
    reopenedAt.push(Date.now());
    proxy.restore();
    await c.close();
    await c.connect();
  };
  const watch = watchDatabase({ client, url: directUrl, logger, intervalMs: 150, wedgedAfterMs: 1000, pingTimeoutMS: 300, reopen });
  t.teardown(() => watch.stop());
  await sleep(400);
  t.equal(watch.failingSince(), null, 'pings answer while the path is open');
  const cutAt = Date.now();
  proxy.cut();
  await waitFor(() => watch.reopened() === 1, 10_000);
  t.ok(reopenedAt[0]! - cutAt >= 1000, 'not before wedgedAfterMs of failures');
  const line = lines.find((l) => /database client wedged/.test(l.msg));
  t.ok(line, 'the wedge is logged');
  t.match(line, { failingForS: Number, lastError: /./ });
  t.ok(line && 'lastHeartbeat' in line, 'with what the monitor last did (null: no heartbeat since the watch started)');
  await waitFor(() => watch.failingSince() === null, 10_000);
  t.ok(lines.some((l) => /database client answers again/.test(l.msg)), 'the recovery is logged');
  await client.db().collection('probe').insertOne({ at: new Date() });
  t.pass('the same client object works after the reopen');
  t.equal(watch.reopened(), 1, 'reopened once');
  await client.db().dropDatabase();
});

t.test('a database down for every client is waited for, not reported as a wedged client', async (t) => {
  const { proxy, client, proxiedUrl } = await proxiedClient(t);
  const { lines, logger } = capture();
  const watch = watchDatabase({ client, url: proxiedUrl, logger, intervalMs: 150, wedgedAfterMs: 600, pingTimeoutMS: 300 });
  t.teardown(() => watch.stop());
  proxy.cut();
  await waitFor(() => lines.some((l) => /database unreachable/.test(l.msg)), 10_000);
  await sleep(1500);
  t.equal(watch.reopened(), 0, 'never reopened while the database answers no one');
  t.equal(lines.filter((l) => /database unreachable/.test(l.msg)).length, 1, 'the outage is logged once');
  proxy.restore();
  await waitFor(() => watch.failingSince() === null, 15_000);
  t.ok(lines.some((l) => /database client answers again/.test(l.msg)), 'the return is logged');
  t.equal(watch.reopened(), 0);
});

t.test('a client that recovers before the limit is left alone', async (t) => {
  const { proxy, client, directUrl } = await proxiedClient(t);
  const { logger } = capture();
  const watch = watchDatabase({ client, url: directUrl, logger, intervalMs: 150, wedgedAfterMs: 20_000, pingTimeoutMS: 300 });
  t.teardown(() => watch.stop());
  proxy.cut();
  await waitFor(() => watch.failingSince() !== null, 10_000);
  proxy.restore();
  await waitFor(() => watch.failingSince() === null, 30_000);
  t.equal(watch.reopened(), 0, 'not reopened: it came back by itself');
  await client.db().command({ ping: 1 });
});
