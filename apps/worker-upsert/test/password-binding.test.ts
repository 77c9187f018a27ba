/**
 * The sync worker sends the stored password only to the URL it was saved for: a connector whose URL was
 * changed behind the API (a direct database edit) fails its sync with PASSWORD_NOT_FOR_URL, and a real
 * listener at the new URL receives no Authorization header. worker-fetch runs as its own process.
 */
import t from 'tap';
import { httpServer } from '@qpc/testing';
import type { ScenarioFile } from '@qpc/qualys-sim';
import { startStack } from './harness.ts';

const scenario: ScenarioFile = {
  user: { login: 'demo', password: 'demo' },
  reports: [{ id: '901', title: 'Other title', launched: '-1d', seed: 901, size: { hosts: 2, controls: 1, instancesPerControl: 1, policies: 1 } }],
};

const seen: string[] = [];
const { url: elsewhere } = await httpServer(t, (req, res) => {
  if (req.headers.authorization) seen.push(req.headers.authorization);
  res.writeHead(401).end();
});

const stack = await startStack(t, { scenario, apps: ['worker-fetch'] });

t.test('a URL changed behind the API: the sync fails, the password never leaves', async (t) => {
  const id = await stack.connector({ reportTitlePrefix: 'QPC-B' });
  await stack.store.col.connectors.updateOne({ _id: id }, { $set: { url: elsewhere } });
  const [run, ...more] = await stack.sync(id);
  t.equal(more.length, 0);
  t.equal(run?.state, 'failed');
  t.match(run?.error?.class, /PASSWORD_NOT_FOR_URL/);
  t.same(seen, [], 'no Authorization header reached the other URL');

  // the URL it was saved for: the same worker lists the reports with it
  await stack.store.col.connectors.updateOne({ _id: id }, { $set: { url: stack.sim.url } });
  const [ok] = await stack.sync(id);
  t.equal(ok?.state, 'no-new-report', JSON.stringify(ok?.error));
});
