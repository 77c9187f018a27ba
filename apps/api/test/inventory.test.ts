/**
 * Hosts and findings over HTTP: every filter, facets under the other filters, paging to the end, paging
 * under concurrent writes, detail routes, and every list query served by an index.
 */
import t from 'tap';
import type { FindingDoc, HostDoc } from '@qpc/store/db';
import { FINDING_FILTER_FIELDS, allIndexes, ensureIndexes } from '@qpc/store/db';
import { VIEWER, startApi, type Api } from './helpers.ts';
import { makeFindings, makeHosts, seedInventory } from './fixtures.ts';
import { checkServedByIndex } from './index-plan.ts';
import { findingsMatch, type FindingFilter } from '../src/routes/findings.ts';
import { hostsFilter, hostsQuery } from '../src/routes/hosts.ts';
import { andAll } from '../src/paging.ts';

const api = await startApi(t);
await ensureIndexes(api.deps.store.db, allIndexes());
const hosts = makeHosts(24);
const findings = makeFindings(hosts);
await seedInventory(api.deps.store, hosts, findings);

async function pageAll(a: Api, path: string, limit = 17): Promise<{ ids: string[]; pages: number; items: Record<string, unknown>[] }> {
  const ids: string[] = [];
  const items: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const r = await a.call('GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: VIEWER });
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text} ${a.logs.filter((l) => l.includes('request failed')).join('')}`);
    ids.push(...r.json.items.map((i: { id: string }) => i.id));
    items.push(...r.json.items);
    cursor = r.json.next;
    pages += 1;
    if (pages > 1000) throw new Error('paging does not end');
  } while (cursor);
  return { ids, pages, items };
}

const filterValue: Record<FindingFilter, (f: FindingDoc) => string | null> = {
  testStatus: (f) => f.testStatus,
  technology: (f) => f.technology,
  expectedResult: (f) => f.expected,
  actualResult: (f) => f.actual,
  scanner: (f) => f.scanner,
  network: (f) => f.network,
  severity: (f) => f.severity,
  status: (f) => f.status,
  policyId: (f) => f.policyId,
  controlId: (f) => f.controlId,
  host: (f) => f.hostId,
  tag: () => null,
};
const matches = (f: FindingDoc, q: Partial<Record<FindingFilter, string>>) =>
  Object.entries(q).every(([k, v]) => {
    if (k === 'tag') return f.tags.includes(v);
    const actual = filterValue[k as FindingFilter](f);
    return v === 'Unset' ? actual === null : actual === v;
  });
const expectIds = (q: Partial<Record<FindingFilter, string>>) => findings.filter((f) => matches(f, q)).map((f) => f._id).sort();
const qs = (q: Record<string, string>) => new URLSearchParams(q).toString();

const samples: Partial<Record<FindingFilter, string>>[] = [
  { testStatus: 'Failed' },
  { testStatus: 'Error' },
  { technology: 'Oracle 19c' },
  { expectedResult: 'expected value 1' },
  { actualResult: 'actual value 3' },
  { scanner: 'QUALYSPC' },
  { network: 'net-b' },
  { severity: 'High' },
  { severity: 'Unset' },
  { status: 'Open' },
  { policyId: 'P2' },
  { controlId: '1002' },
  { host: 'h0007' },
  { tag: 'PCI' },
  { network: 'net-a', status: 'Open' },
  { network: 'net-b', severity: 'Low', testStatus: 'Error' },
  { tag: 'DMZ', testStatus: 'Passed', policyId: 'P1' },
];

t.test('findings: every filter, paged to the end', async (t) => {
  const all = await pageAll(api, '/api/findings', 23);
  t.same(all.ids, findings.map((f) => f._id).sort(), 'no filter: everything once, in id order');
  t.equal(all.pages, Math.ceil(findings.length / 23));
  for (const [i, q] of samples.entries()) {
    const expected = expectIds(q);
    t.ok(expected.length > 0, `${qs(q as Record<string, string>)} selects something`);
    // a few filters paged in small pages, the others in one page (FerretDB sorts slowly)
    const got = await pageAll(api, `/api/findings?${qs(q as Record<string, string>)}`, i % 5 === 0 ? 11 : 500);
    t.same(got.ids, expected, `findings ?${qs(q as Record<string, string>)}`);
  }
  const one = await api.call('GET', '/api/findings?host=h0003&policyId=P1&controlId=1003', { token: VIEWER });
  const item = one.json.items[0];
  for (const k of ['ip', 'hostname', 'policyId', 'controlId', 'instance', 'testStatus', 'status', 'severity', 'technology', 'expected', 'actual', 'scanner']) {
    t.ok(k in item, `items carry ${k}`);
  }
  t.equal(item.instance, 'inst-1');
  t.equal((await api.call('GET', '/api/findings?severity=Bad', { token: VIEWER })).status, 400);
  t.equal((await api.call('GET', '/api/findings?status=open', { token: VIEWER })).status, 400);
});

t.test('facets: each filter with counts under the other filters', async (t) => {
  for (const q of [{}, { network: 'net-a', status: 'Open' }, { tag: 'Linux', severity: 'Medium' }] as Partial<Record<FindingFilter, string>>[]) {
    const r = await api.call('GET', `/api/findings/facets?${qs(q as Record<string, string>)}&size=500`, { token: VIEWER });
    t.equal(r.status, 200, r.status === 200 ? 'facets' : api.logs.filter((l) => l.includes('request failed')).join(''));
    t.same(r.json.truncated, []);
    for (const f of Object.keys(FINDING_FILTER_FIELDS) as FindingFilter[]) {
      const others = Object.fromEntries(Object.entries(q).filter(([k]) => k !== f));
      const scope = findings.filter((d) => matches(d, others));
      const expected = new Map<string | null, number>();
      for (const d of scope) {
        const values = f === 'tag' ? d.tags : [filterValue[f](d)];
        for (const v of values) expected.set(v, (expected.get(v) ?? 0) + 1);
      }
      const got = new Map((r.json.facets[f] as { value: string | null; count: number }[]).map((x) => [x.value, x.count]));
      t.same(Object.fromEntries(got), Object.fromEntries(expected), `facet ${f} under ${JSON.stringify(q)}`);
      const counts = (r.json.facets[f] as { count: number }[]).map((x) => x.count);
      t.same(counts, [...counts].sort((a, b) => b - a), `facet ${f} most frequent first`);
    }
    const host = (r.json.facets.host as { value: string; label?: string }[])[0]!;
    t.match(host.label ?? '', /^10\./, 'host facet labelled with its IP');
  }
  const small = await api.call('GET', '/api/findings/facets?size=2', { token: VIEWER });
  t.equal(small.json.facets.host.length, 2);
  t.ok(small.json.truncated.includes('host'));
  t.notOk(small.json.truncated.includes('status'));
});

t.test('paging is stable under concurrent writes', async (t) => {
  const before = findings.filter((f) => f.network === 'net-a').map((f) => f._id).sort();
  const seen: string[] = [];
  let cursor: string | null = null;
  let round = 0;
  do {
    const r = await api.call('GET', `/api/findings?network=net-a&limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: VIEWER });
    seen.push(...r.json.items.map((i: { id: string }) => i.id));
    cursor = r.json.next;
    round += 1;
    // writers at work between pages: updates of seen and unseen documents, inserts before and after the cursor
    await api.deps.store.col.findings.updateMany({ network: 'net-a', controlId: '1001' }, { $set: { lastSeen: new Date(), status: round % 2 ? 'Closed' : 'Open' } });
    const clone = (id: string): FindingDoc => ({ ...findings[0]!, _id: id, network: 'net-a', findingKey: `new-${id}` });
    await api.deps.store.col.findings.insertMany([clone(`f000000-new-${round}`), clone(`zz-new-${round}`)]);
    await writerProgressed();
  } while (cursor);
  const existing = seen.filter((id) => before.includes(id));
  t.same(existing, before, 'every document that existed is seen exactly once, in order');
  t.equal(new Set(seen).size, seen.length, 'no duplicates');
  t.ok(seen.some((id) => id.startsWith('zz-new-')), 'documents inserted ahead of the cursor show up');
  await api.deps.store.col.findings.deleteMany({ findingKey: /^new-/ });
  await writerProgressed();
});

/**
 * The pipeline writes findings only inside a run and moves that run's updatedAt as it does (FerretDB
 * mode serves the list from a snapshot keyed on it): the writers of this test do the same.
 */
const writerProgressed = () =>
  api.deps.store.col.runs.updateOne({ _id: 'inventory-writer' }, { $set: { updatedAt: new Date() } }, { upsert: true });

t.test('hosts: every filter, paged to the end', async (t) => {
  const all = await pageAll(api, '/api/hosts', 7);
  t.same(all.ids, hosts.map((h) => h._id).sort());
  const cases: [Record<string, string>, (h: HostDoc) => boolean][] = [
    [{ network: 'net-a' }, (h) => h.network === 'net-a'],
    [{ scanner: 'QUALYSPC' }, () => true],
    [{ scanner: 'OTHER' }, () => false],
    [{ tag: 'PCI' }, (h) => h.tags.includes('PCI')],
    [{ q: '10.1.0.1' }, (h) => (h.ip ?? '').startsWith('10.1.0.1')],
    [{ q: 'host-1' }, (h) => (h.hostname ?? '').startsWith('host-1')],
    [{ q: 'HOST-2' }, (h) => (h.hostname ?? '').startsWith('host-2')],
    [{ q: 'host-3', network: 'net-b', tag: 'Windows' }, (h) => (h.hostname ?? '').startsWith('host-3') && h.network === 'net-b' && h.tags.includes('Windows')],
    [{ q: '10.0.0.1(' }, () => false],
  ];
  for (const [q, pred] of cases) {
    const got = await pageAll(api, `/api/hosts?${qs(q)}`, 5);
    t.same(got.ids, hosts.filter(pred).map((h) => h._id).sort(), `hosts ?${qs(q)}`);
  }
  const item = all.items[3]!;
  for (const k of ['ip', 'hostname', 'network', 'tags', 'sources', 'os']) t.ok(k in item, `host items carry ${k}`);
});

t.test('detail routes', async (t) => {
  const h = await api.call('GET', '/api/hosts/h0005', { token: VIEWER });
  t.equal(h.status, 200);
  t.same(h.json.sources, ['QUALYSPC']);
  t.same(h.json.tags, hosts[5]!.tags);
  const mine = findings.filter((f) => f.hostId === 'h0005');
  t.equal(h.json.findingCounts.total, mine.length);
  t.equal(h.json.findingCounts.byStatus.Open ?? 0, mine.filter((f) => f.status === 'Open').length);
  t.equal(h.json.findingCounts.byStatus.Closed ?? 0, mine.filter((f) => f.status === 'Closed').length);
  for (const sev of ['Critical', 'High', 'Medium', 'Low', 'Info']) {
    t.equal(h.json.findingCounts.bySeverity[sev] ?? 0, mine.filter((f) => f.severity === sev).length, `host severity ${sev}`);
  }
  t.equal(h.json.findingCounts.bySeverity.Unset ?? 0, mine.filter((f) => f.severity === null).length);
  t.equal((await api.call('GET', '/api/hosts/none', { token: VIEWER })).status, 404);

  const f = await api.call('GET', `/api/findings/${findings[9]!._id}`, { token: VIEWER });
  t.equal(f.status, 200);
  t.equal(f.json.technology, findings[9]!.technology);
  t.same(f.json.observations, { testStatus: findings[9]!.testStatus, evaluationDate: '2026-10-30T10:00:00Z', exception: null });
  t.same(f.json.output, { expected: findings[9]!.expected, actual: findings[9]!.actual });
  t.equal(f.json.history.length, 1);
  t.equal(f.json.history[0].reason, 'new');
  t.equal((await api.call('GET', '/api/findings/none', { token: VIEWER })).status, 404);
});

t.test('every list query is served by an index', async (t) => {
  const fcol = api.deps.store.db.collection('findings');
  const hcol = api.deps.store.db.collection('hosts');
  for (const q of samples) {
    const c = await checkServedByIndex(fcol, findingsMatch(q), { _id: 1 });
    t.ok(c.ok, `findings ${JSON.stringify(q)}: ${c.how}`);
    const withCursor = await checkServedByIndex(fcol, andAll([findingsMatch(q), { _id: { $gt: 'f000100' } }]), { _id: 1 });
    t.ok(withCursor.ok, `findings ${JSON.stringify(q)} after a cursor: ${withCursor.how}`);
  }
  for (const q of [{ network: 'net-a' }, { scanner: 'QUALYSPC' }, { tag: 'PCI' }, { q: '10.1' }, { q: 'host-1' }, { network: 'net-b', tag: 'Linux' }]) {
    const c = await checkServedByIndex(hcol, hostsFilter(hostsQuery.parse(q)), { _id: 1 });
    t.ok(c.ok, `hosts ${JSON.stringify(q)}: ${c.how}`);
  }
});

t.test("a finding's last seen is when a run last assessed its host x policy, when later than its own write", async (t) => {
  // as stored now (an earlier test writes last seen dates)
  const f = (await api.deps.store.col.findings.findOne({ _id: findings[0]!._id }))!;
  const other = (await api.deps.store.col.findings.findOne({ network: f.network, hostKey: { $ne: f.hostKey } }))!;
  const at = new Date(f.lastSeen.getTime() + 86_400_000);
  await api.deps.store.col.assessments.insertOne({ _id: `a-${f._id}`, network: f.network, hostKey: f.hostKey, policyId: f.policyId, runId: 'run-2', at });
  t.teardown(() => api.deps.store.col.assessments.deleteOne({ _id: `a-${f._id}` }));
  const one = await api.call('GET', `/api/findings/${f._id}`, { token: VIEWER });
  t.equal(one.json.lastSeen, at.toISOString(), 'detail: the assessment date');
  const list = await pageAll(api, `/api/findings?network=${f.network}`, 100);
  const byId = new Map(list.items.map((i) => [i.id, i.lastSeen]));
  t.equal(byId.get(f._id), at.toISOString(), 'list: the assessment date');
  t.equal(byId.get(other._id), other.lastSeen.toISOString(), 'a finding of a host x policy not assessed since keeps its own date');
});

t.test("a host's last seen is its latest assessment, when later than its own write", async (t) => {
  const h = (await api.deps.store.col.hosts.findOne({ _id: hosts[1]!._id }))!;
  const at = new Date(h.lastSeen.getTime() + 2 * 86_400_000);
  await api.deps.store.col.assessments.insertMany([
    { _id: `h-${h._id}-1`, network: h.network, hostKey: h.hostKey, policyId: 'P1', runId: 'run-2', at: new Date(at.getTime() - 3_600_000) },
    { _id: `h-${h._id}-2`, network: h.network, hostKey: h.hostKey, policyId: 'P2', runId: 'run-2', at },
  ]);
  t.teardown(() => api.deps.store.col.assessments.deleteMany({ _id: { $in: [`h-${h._id}-1`, `h-${h._id}-2`] } }));
  const one = await api.call('GET', `/api/hosts/${h._id}`, { token: VIEWER });
  t.equal(one.json.lastSeen, at.toISOString(), 'detail: the latest assessment');
  const list = await pageAll(api, `/api/hosts?network=${h.network}`, 100);
  const byId = new Map(list.items.map((i) => [i.id, i.lastSeen]));
  t.equal(byId.get(h._id), at.toISOString(), 'list: the latest assessment');
  const other = list.items.find((i) => i.id !== h._id);
  const otherDoc = await api.deps.store.col.hosts.findOne({ _id: other?.id as string });
  t.equal(other?.lastSeen, otherDoc?.lastSeen.toISOString(), 'a host not assessed since keeps its own date');
});

t.test("a finding's last changed is its last status change, not its last sighting", async (t) => {
  const f = (await api.deps.store.col.findings.findOne({ _id: findings[4]!._id }))!;
  const changed = new Date('2026-11-20T08:30:00Z');
  const seen = new Date('2026-11-25T00:00:00Z');
  await api.deps.store.col.findings.updateOne(
    { _id: f._id },
    { $set: { lastSeen: seen }, $push: { history: { at: changed, runId: 'run-9', from: 'Open', to: 'Closed', reason: 'passed' } } },
  );
  await writerProgressed();
  t.teardown(async () => {
    await api.deps.store.col.findings.replaceOne({ _id: f._id }, f);
    await writerProgressed();
  });
  const list = await pageAll(api, `/api/findings?host=${f.hostId}`, 100);
  const item = list.items.find((i) => i.id === f._id) as unknown as { lastChanged: string; lastSeen: string };
  t.equal(item.lastChanged, changed.toISOString(), 'the newest history entry');
  t.equal(item.lastSeen, seen.toISOString(), 'last seen is its own field');
  const other = list.items.find((i) => i.id !== f._id) as unknown as { id: string; lastChanged: string };
  const first = findings.find((x) => x._id === other.id)!;
  t.equal(other.lastChanged, first.history[0]!.at.toISOString(), 'one history entry: its date');
});

t.test('the hosts list carries each host its open findings by severity (no request per host)', async (t) => {
  const r = await api.call('GET', '/api/hosts?network=net-b&limit=7', { token: VIEWER });
  t.equal(r.status, 200);
  t.equal(r.json.items.length, 7);
  for (const h of r.json.items as { id: string; openFindingsBySeverity: Record<string, number> }[]) {
    const want: Record<string, number> = {};
    for (const f of findings) if (f.hostId === h.id && f.status === 'Open') want[f.severity ?? 'Unset'] = (want[f.severity ?? 'Unset'] ?? 0) + 1;
    t.same(h.openFindingsBySeverity, want, `host ${h.id}`);
  }
});
