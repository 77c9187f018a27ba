import t from 'tap';
import { JOBS, QUEUES, parsePayload, PayloadError, jobIds, isJobName } from '../src/index.ts';
import { UnrecoverableError } from 'bullmq';

t.test('every job names a known queue', async (t) => {
  const queues = new Set(Object.values(QUEUES));
  for (const [name, def] of Object.entries(JOBS)) t.ok(queues.has(def.queue), name);
});

t.test('payloads are validated and defaults applied', async (t) => {
  const d = parsePayload('sync', { connectorId: 'c1', trigger: 'on-demand' });
  t.equal(d.reingest, false);
  const err = t.throws(() => parsePayload('upsert', { connectorId: 'c', runId: 'r', seq: -1 }));
  t.type(err, PayloadError);
  t.type(err, UnrecoverableError, 'bad payloads are not retried');
  t.match((err as Error).message, /seq/);
});

t.test('job ids are deterministic', async (t) => {
  t.equal(jobIds.upsert('r1', 3), jobIds.upsert('r1', 3));
  t.not(jobIds.upsert('r1', 3), jobIds.upsert('r1', 4));
  t.notMatch(jobIds.parse('r1'), /:/, 'BullMQ refuses ids with a colon');
});

t.test('isJobName', async (t) => {
  t.ok(isJobName('fetch'));
  t.notOk(isJobName('toString'));
});
