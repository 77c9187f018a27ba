/**
 * closeBullmq: closing a Queue or Worker whose connection is still initializing leaves no unhandled
 * rejection behind. The Redis here is a stub over real TCP that answers ioredis's ready check and
 * never answers BullMQ's version check, which holds the connection in its initializing state.
 */
import net from 'node:net';
import t, { type Test } from 'tap';
import { Queue, Worker } from 'bullmq';
import { closeBullmq } from '../src/index.ts';

/** A RESP stub: +OK to everything, a Redis 7 INFO to the first INFO of each connection, silence after. */
async function stallingRedis(t: Test) {
  let versionChecks = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    let infos = 0;
    s.on('data', (d) => {
      for (const cmd of d.toString('latin1').split(/(?=\*\d+\r\n)/)) {
        if (!cmd.startsWith('*')) continue;
        if (/^\*1\r\n\$4\r\ninfo\r\n/i.test(cmd)) {
          infos += 1;
          if (infos === 1) {
            const body = 'redis_version:7.2.0\r\nloading:0\r\n';
            s.write(`$${body.length}\r\n${body}\r\n`);
          } else versionChecks += 1; // never answered
        } else s.write('+OK\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const port = (server.address() as net.AddressInfo).port;
  return { port, versionChecks: () => versionChecks };
}

async function collectUnhandled(t: Test, during: () => Promise<void>) {
  const seen: string[] = [];
  const onUnhandled = (e: unknown) => seen.push((e as Error)?.message ?? String(e));
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => void process.off('unhandledRejection', onUnhandled));
  await during();
  await new Promise((r) => setTimeout(r, 300)); // the late failure lands after close() returns
  return seen;
}

const connection = (port: number) => ({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, enableOfflineQueue: false });

const until = async (cond: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return cond();
};

t.test('a Queue closed during its version check: close resolves, nothing unhandled', async (t) => {
  const redis = await stallingRedis(t);
  const errors: string[] = [];
  const q = new Queue('q', { connection: connection(redis.port), prefix: 'closetest' });
  q.on('error', (e) => errors.push(e.message));
  t.ok(await until(() => redis.versionChecks() === 1), 'the version check is in flight');
  const seen = await collectUnhandled(t, () => closeBullmq(q));
  t.same(seen, [], 'no unhandled rejection');
  t.same(errors, [], 'no error reported while open');
});

t.test('a Worker closed during its version check: close resolves, nothing unhandled', async (t) => {
  const redis = await stallingRedis(t);
  const w = new Worker('q', async () => undefined, { connection: { ...connection(redis.port), maxRetriesPerRequest: null }, prefix: 'closetest', autorun: false });
  w.on('error', () => undefined);
  t.ok(await until(() => redis.versionChecks() >= 1), 'a version check is in flight');
  const seen = await collectUnhandled(t, () => closeBullmq(w));
  t.same(seen, [], 'no unhandled rejection');
});
