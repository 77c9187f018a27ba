/**
 * createEnqueuer on the real Redis: the pipeline's jobs land under the job ids Redis already holds for
 * runs in flight (parse-<runId>, upsert-<runId>-<seq>, ...), enqueueing twice adds one job, a bad payload
 * adds nothing, and an on-demand sync joins the one already queued.
 */
import t from 'tap';
import { createEnqueuer, jobOptions, PayloadError } from '../src/index.ts';
import { testRedis } from '@qpc/testing';

const connection = (url: string) => ({ host: new URL(url).hostname, port: Number(new URL(url).port || 6379), maxRetriesPerRequest: null });

t.test('pipeline jobs get their persisted ids; a second enqueue of the same job adds nothing', async (t) => {
  const { prefix, redisUrl } = await testRedis(t);
  const enqueuer = createEnqueuer({ connection: connection(redisUrl), prefix });
  t.teardown(() => enqueuer.close());

  t.equal(await enqueuer.fetch('r1', 'c1'), 'fetch-r1');
  t.equal(await enqueuer.parse('r1', 'c1'), 'parse-r1');
  t.equal(await enqueuer.parse('r1', 'c1', 2), 'parse-r1-2', 'a revived run: its generation in the id');
  t.equal(await enqueuer.upsert('r1', 'c1', 3), 'upsert-r1-3');
  t.equal(await enqueuer.finalize('r1', 'c1'), 'finalize-r1');
  t.equal(await enqueuer.finalize('r1', 'c1', 1), 'finalize-r1-1');
  await enqueuer.upsert('r1', 'c1', 3);
  await enqueuer.fetch('r1', 'c1');

  const ids = async (q: 'fetch' | 'parse' | 'upsert' | 'finalize') => (await enqueuer.queue(q).getJobs(['waiting'])).map((j) => j.id).sort();
  t.same(await ids('fetch'), ['fetch-r1']);
  t.same(await ids('parse'), ['parse-r1', 'parse-r1-2']);
  t.same(await ids('upsert'), ['upsert-r1-3']);
  t.same(await ids('finalize'), ['finalize-r1', 'finalize-r1-1']);
  const job = await enqueuer.queue('upsert').getJob('upsert-r1-3');
  t.same(job?.data, { connectorId: 'c1', runId: 'r1', seq: 3 }, 'ids only in the payload');
  t.equal(job?.opts.attempts, jobOptions.upsert.attempts, 'the catalogue options');
});

t.test('a bad payload is refused before anything is added', async (t) => {
  const { prefix, redisUrl } = await testRedis(t);
  const enqueuer = createEnqueuer({ connection: connection(redisUrl), prefix });
  t.teardown(() => enqueuer.close());
  await t.rejects(enqueuer.upsert('r1', 'c1', -1), PayloadError);
  await t.rejects(enqueuer.fetch('', 'c1'), PayloadError);
  t.equal(await enqueuer.queue('upsert').count(), 0);
  t.equal(await enqueuer.queue('fetch').count(), 0);
});

t.test('on-demand syncs: the id names connector and request; a queued one is joined unless told not to', async (t) => {
  const { prefix, redisUrl } = await testRedis(t);
  const enqueuer = createEnqueuer({ connection: connection(redisUrl), prefix });
  t.teardown(() => enqueuer.close());
  const first = await enqueuer.requestSync({ connectorId: 'c1', requestId: 'q1', reingest: true });
  t.same(first, { jobId: 'sync-c1-q1', joined: false });
  const job = await enqueuer.queue('sync').getJob('sync-c1-q1');
  t.same(job?.data, { connectorId: 'c1', trigger: 'on-demand', reingest: true, requestId: 'q1' });
  t.equal(job?.opts.attempts, 3);
  t.same(await enqueuer.requestSync({ connectorId: 'c1' }), { jobId: 'sync-c1-q1', joined: true }, 'joins the queued sync');
  const other = await enqueuer.requestSync({ connectorId: 'c2' });
  t.match(other.jobId, /^sync-c2-[0-9a-f-]{36}$/, 'a new request id');
  const apart = await enqueuer.requestSync({ connectorId: 'c1', requestId: 'q2' }, { joinQueued: false });
  t.same(apart, { jobId: 'sync-c1-q2', joined: false });
  t.equal(await enqueuer.queue('sync').count(), 3);
});
