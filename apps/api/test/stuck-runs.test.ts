/** Runs that stopped advancing with no job to move them on are shown by the API and counted in /metrics. */
import t from 'tap';
import { jobIds } from '@qpc/jobs';
import { createRun } from '@qpc/store/pipeline';
import { startApi } from './helpers.ts';

t.test('GET /api/stuck-runs and qpc_runs_stuck show a run left in parsing without a parse job', async (t) => {
  const api = await startApi(t);
  const { store } = api.deps;
  const metric = async () => {
    const m = await api.call('GET', '/metrics');
    return Number(/^qpc_runs_stuck (\d+)$/m.exec(m.text)?.[1]);
  };
  t.equal(await metric(), 0, 'none at first');
  for (const id of ['wedged', 'busy']) {
    await createRun(store, { _id: id, connectorId: 'c1', syncId: `s-${id}`, trigger: 'schedule', network: 'net', index: 0, report: { id: `r-${id}`, title: 'PC', launchedAt: null }, state: 'queued' });
    await store.col.runs.updateOne({ _id: id }, { $set: { state: 'parsing', updatedAt: new Date(Date.now() - 3_600_000) } });
  }
  // 'busy' has its parse job waiting: it only waits
  await api.deps.queues.parse.add('parse', { connectorId: 'c1', runId: 'busy' }, { jobId: jobIds.parse('busy') });

  const list = await api.call('GET', '/api/stuck-runs', { token: 'viewer-token-0123456789abcdef' });
  t.equal(list.status, 200, list.text);
  t.same(list.json.items.map((r: { id: string }) => r.id), ['wedged']);
  t.same(list.json.items[0].neededJobs, [{ stage: 'parse', key: 0, presence: 'missing' }]);
  t.equal(await metric(), 1);
});
