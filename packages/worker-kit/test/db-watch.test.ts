/**
 * The database watch against the real MongoDB-wire server, the app's client reaching it through a TCP
 * proxy that the test cuts:
 * - a client that stays unusable while the database answers a new connection is reported wedged (once);
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

t.test('a client that cannot reach a database that answers others is reported wedged, once', async (t) => {
  const { proxy, client, directUrl } = await proxiedClient(t);
  const { lines, logger } = capture();
  const wedged: string[] = [];
  const watch = watchDatabase({ client, url: directUrl, logger, intervalMs: 150, wedgedAfterMs: 1000, pingTimeoutMS: 300, onWedged: (r) => wedged.push(r) });
  t.teardown(() => watch.stop());
  await sleep(400);
  t.equal(watch.failingSince(), null, 'pings answer while the path is open');
  proxy.cut();
  await waitFor(() => wedged.length > 0, 10_000);
  t.same(wedged, ['database client wedged']);
  const line = lines.find((l) => /database client wedged/.test(l.msg));
  t.ok(line, 'the wedge is logged');
  t.match(line, { failingForS: Number, lastError: String, heartbeatsSinceFailure: Number });
  await sleep(1000);
  t.equal(wedged.length, 1, 'reported once: the watch stops after it');
});

t.test('a database down for every client is waited for, not reported as a wedged client', async (t) => {
  const { proxy, client, proxiedUrl } = await proxiedClient(t);
  const { lines, logger } = capture();
  const wedged: string[] = [];
  const watch = watchDatabase({ client, url: proxiedUrl, logger, intervalMs: 150, wedgedAfterMs: 600, pingTimeoutMS: 300, onWedged: (r) => wedged.push(r) });
  t.teardown(() => watch.stop());
  proxy.cut();
  await waitFor(() => lines.some((l) => /database unreachable/.test(l.msg)), 10_000);
  await sleep(1500);
  t.same(wedged, [], 'never reported wedged while the database answers no one');
  t.equal(lines.filter((l) => /database unreachable/.test(l.msg)).length, 1, 'the outage is logged once');
  proxy.restore();
  await waitFor(() => watch.failingSince() === null, 15_000);
  t.ok(lines.some((l) => /database reachable again/.test(l.msg)), 'the return is logged');
  t.same(wedged, []);
});

t.test('a client that recovers before the limit is left alone', async (t) => {
  const { proxy, client, directUrl } = await proxiedClient(t);
  const { logger } = capture();
  const wedged: string[] = [];
  const watch = watchDatabase({ client, url: directUrl, logger, intervalMs: 150, wedgedAfterMs: 20_000, pingTimeoutMS: 300, onWedged: (r) => wedged.push(r) });
  t.teardown(() => watch.stop());
  proxy.cut();
  await waitFor(() => watch.failingSince() !== null, 10_000);
  proxy.restore();
  await waitFor(() => watch.failingSince() === null, 30_000);
  t.same(wedged, [], 'not wedged: it came back by itself');
  await client.db().command({ ping: 1 });
});
