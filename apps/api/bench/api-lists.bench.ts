/**
 * List and facet latency of the API over HTTP against the local MongoDB-wire server, on a generated
 * inventory (BENCH_HOSTS hosts x 2 policies x 3 controls findings; default 2000 hosts = 12,000 findings).
 * Prints the figures, then one JSON line.
 */
import { allIndexes, ensureIndexes } from '@qpc/store/db';
import { startApi, VIEWER } from '../test/helpers.ts';
import { makeFindings, makeHosts, seedInventory } from '../test/fixtures.ts';

const teardowns: (() => unknown)[] = [];
const api = await startApi({ teardown: (fn) => teardowns.push(fn) });
try {
  const nHosts = Number(process.env.BENCH_HOSTS ?? 2000);
  await ensureIndexes(api.deps.store.db, allIndexes());
  const hosts = makeHosts(nHosts);
  const findings = makeFindings(hosts);
  let t0 = performance.now();
  await seedInventory(api.deps.store, hosts, findings);
  const seedS = (performance.now() - t0) / 1000;
  console.log(`seeded ${hosts.length} hosts, ${findings.length} findings in ${seedS.toFixed(1)} s`);

  const time = async (label: string, path: string, reps = 3): Promise<number> => {
    const ms: number[] = [];
    for (let i = 0; i < reps; i++) {
      t0 = performance.now();
      const r = await api.call('GET', path, { token: VIEWER });
      if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text}`);
      ms.push(performance.now() - t0);
    }
    const median = ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)]!;
    console.log(`${label.padEnd(36)} ${median.toFixed(0).padStart(6)} ms (median of ${reps})`);
    return median;
  };
  const second = (await api.call('GET', '/api/findings?limit=50', { token: VIEWER })).json.next as string;
  const out = {
    findings: findings.length,
    hosts: hosts.length,
    findings_page_ms: await time('findings, first page of 50', '/api/findings?limit=50'),
    findings_next_page_ms: await time('findings, next page (cursor)', `/api/findings?limit=50&cursor=${encodeURIComponent(second)}`),
    findings_filtered_ms: await time('findings, network+status filter', '/api/findings?limit=50&network=net-a&status=Open'),
    findings_host_ms: await time('findings of one host', '/api/findings?limit=50&host=h0005'),
    facets_ms: await time('facets (one pass), no filter', '/api/findings/facets', 1),
    facets_filtered_ms: await time('facets, network filter', '/api/findings/facets?network=net-b', 1),
    hosts_page_ms: await time('hosts, first page of 50', '/api/hosts?limit=50'),
    host_detail_ms: await time('host detail with counts', '/api/hosts/h0005'),
    server: 'FerretDB 1.24 (SQLite) unless MONGO_URL says otherwise',
  };
  console.log(JSON.stringify(out));
} finally {
  for (const fn of teardowns) await fn();
}
