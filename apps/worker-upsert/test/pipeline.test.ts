import t from 'tap';
import type { ScenarioFile } from '@qpc/qualys-sim';
import { startStack, groundTruth, dbState, WORKERS } from './harness.ts';

const scenario: ScenarioFile = {
  user: { login: 'demo', password: 'demo' },
  reports: [
    { id: '501', title: 'QPC-T Servers', launched: '-2d', seed: 501, size: { hosts: 20, controls: 3, instancesPerControl: 2, policies: 1 } },
    { id: '502', title: 'QPC-T Databases', launched: '-1d', seed: 502, layout: 'by-control', size: { hosts: 8, controls: 3, instancesPerControl: 2, policies: 2 }, firstHostId: 50001, firstPolicyId: 3001 },
    { id: '503', title: 'Other title', launched: '-1d', seed: 503, size: { hosts: 5, controls: 2, instancesPerControl: 1, policies: 1 } },
  ],
};

t.test('a sync ingests every chosen report; the database equals the ground truth; re-running changes nothing', async (t) => {
  const stack = await startStack(t, { scenario, apps: WORKERS });
  const connectorId = await stack.connector({ autoUrba: true });
  // Redis stays bounded: jobs carry (runId, seq) only; staged batches live in MongoDB
  let redisPeak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      let cursor = '0';
      let bytes = 0;
      do {
        const [next, keys] = await stack.redis.scan(cursor, 'MATCH', `${stack.prefix}:*`, 'COUNT', 500);
        cursor = next;
        for (const k of keys) bytes += Number((await stack.redis.memory('USAGE', k)) ?? 0);
      } while (cursor !== '0');
      redisPeak = Math.max(redisPeak, bytes);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const started = Date.now();
  const runs = await stack.sync(connectorId, { timeoutMs: 120_000 });
  sampling = false;
  await sampler;
  t.comment(`redis peak under the prefix: ${redisPeak} bytes`);
  t.ok(redisPeak < 512 * 1024, `Redis memory under the queue prefix stays under 512 KB (${redisPeak} bytes)`);
  t.comment(`first sync: ${Date.now() - started} ms`);
  t.same(runs.map((r) => [r.reportId, r.state]), [['501', 'succeeded'], ['502', 'succeeded']], 'oldest first, both succeeded');

  let hostsTotal = 0;
  let findingsTotal = 0;
  for (const reportId of ['501', '502']) {
    const truth = groundTruth(stack.sim, reportId);
    hostsTotal += truth.hosts.size;
    findingsTotal += truth.findings.size;
    const run = runs.find((r) => r.reportId === reportId);
    t.equal(run?.counts.findingsParsed, truth.findings.size, `${reportId}: parsed = ground truth`);
    t.equal(run?.counts.findingsCreated, truth.findings.size, `${reportId}: every finding created`);
    const docs = await stack.store.col.findings.find({ findingKey: { $in: [...truth.findings.keys()] } }).toArray();
    t.equal(docs.length, truth.findings.size, `${reportId}: every finding stored`);
    let mismatches = 0;
    for (const d of docs) {
      const e = truth.findings.get(d.findingKey);
      const ok =
        e &&
        d.status === e.status &&
        d.testStatus === e.testStatus &&
        d.severity === e.severity &&
        d.technology === e.technology &&
        d.expected === e.expected &&
        d.actual === e.actual &&
        d.controlId === e.controlId &&
        d.policyId === e.policyId &&
        d.instance === e.instance &&
        d.criticalityValue === e.criticalityValue &&
        d.scanner === 'QUALYSPC';
      if (!ok) mismatches++;
    }
    t.equal(mismatches, 0, `${reportId}: every finding matches (status, severity, technology, expected, actual...)`);
    const hosts = await stack.store.col.hosts.find({ hostKey: { $in: [...truth.hosts.keys()] } }).toArray();
    t.equal(hosts.length, truth.hosts.size, `${reportId}: every host stored`);
    const badHosts = hosts.filter((h) => {
      const e = truth.hosts.get(h.hostKey);
      return !e || h.ip !== e.ip || h.hostname !== e.hostname || JSON.stringify(h.tags) !== JSON.stringify(e.tags) || !h.sources.includes('QUALYSPC');
    });
    t.equal(badHosts.length, 0, `${reportId}: hosts match (ip, hostname, tags, sources)`);
  }
  t.equal(await stack.store.col.findings.countDocuments({}), findingsTotal, 'no other finding');
  t.equal(await stack.store.col.hosts.countDocuments({}), hostsTotal, 'no other host');
  // the records go once written; the run's batches keep the keys it saw (the URBA preview's) until the next complete run
  t.equal(await stack.store.col.batches.countDocuments({ records: { $ne: null } }), 0, 'staged records removed');
  t.equal(await stack.store.col.batches.countDocuments({ runId: { $ne: runs.at(-1)?._id } }), 0, 'only the last complete run keeps its batches');
  const run = runs[0];
  t.ok(run?.timings.fetch.ms !== null && run?.timings.parse.ms !== null && run?.timings.finalize.ms !== null, 'stage timings');
  t.ok((run?.qualys.calls ?? 0) >= 2, 'qualys calls counted');
  t.equal(run?.file?.length, run?.counts.bytes);

  const before = await dbState(stack.store);
  const again = await stack.sync(connectorId, { timeoutMs: 60_000 });
  t.same(again.map((r) => r.state), ['no-new-report'], 'nothing new: no-new-report');
  t.same(await dbState(stack.store), before, 'a sync with no new report changes nothing');
  // re-ingesting the same reports: every finding exists already, so every write is an update of an
  // existing document (more matching updates per bulk than FerretDB's connection pool holds)
  const re = await stack.sync(connectorId, { reingest: true, timeoutMs: 120_000 });
  for (const r of re) if (r.error) t.comment(`run ${r.reportId}: ${JSON.stringify(r.error)} parse=${JSON.stringify(r.parse)} counts=${JSON.stringify(r.counts)}`);
  t.same(re.map((r) => [r.reportId, r.state]), [['501', 'succeeded'], ['502', 'succeeded']], 're-ingest runs succeed');
  t.same(re.map((r) => r.attempt), [2, 2], 'each report ingested a second time');
  t.same(re.map((r) => r.counts.findingsCreated + r.counts.findingsClosed + r.counts.findingsReopened + r.counts.urbaClosed), [0, 0], 'nothing created, closed or reopened');
  t.same(await dbState(stack.store), before, 're-ingesting the same reports changes nothing');
});
