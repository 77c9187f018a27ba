/**
 * The posture endpoints against the report endpoints of the same estate: the records parsed from the
 * paged posture answers equal those parsed from the latest report, field by field, except the fields
 * only reports carry (host lastScanDate and tags, finding exception and deprecated: see
 * @qpc/pc-posture records.ts). Also status_changes_since, 409, a cut answer and bad parameters.
 */
import t from 'tap';
import { parsePostureToArray, type FindingRecord, type HostRecord, type PostureRecord, type PostureSummaryRecord } from '@qpc/pc-posture';
import { parseReportToArray, QualysReturnError, ReportError, type ReportRecord } from '@qpc/pc-report';
import { resolveScenario, startSimulator, type Simulator } from '../src/index.ts';
import { call, simple, STD } from './http-helper.ts';

const SCENARIO = resolveScenario({
  reports: [
    {
      id: '5001',
      title: 'Posture estate',
      launched: '-2d',
      seed: 77,
      layout: 'by-host',
      size: { hosts: 45, controls: 9, instancesPerControl: 3, policies: 2 },
      variants: { text: 'escaped' },
      firstPolicyId: 3001,
      generatedAt: '2026-11-10T08:00:00Z',
    },
    {
      id: '5002',
      title: 'Posture estate',
      launched: '-1d',
      derivedFrom: '5001',
      layout: 'by-control',
      generatedAt: '2026-11-12T08:00:00Z',
      mutations: [
        { type: 'flip', percent: 15 },
        { type: 'dropHosts', percent: 10 },
        { type: 'dropInstances', percent: 20 },
      ],
    },
  ],
});

async function sim(t: { teardown(fn: () => unknown): void }): Promise<Simulator> {
  const s = await startSimulator({ port: 0, scenario: SCENARIO });
  t.teardown(() => s.close());
  return s;
}

async function* body(url: string): AsyncGenerator<Uint8Array> {
  const res = await fetch(url, { headers: STD });
  if (!res.body) return;
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) yield c;
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

async function report(s: Simulator, id: string): Promise<ReportRecord[]> {
  return parseReportToArray(body(`${s.url}/api/2.0/fo/report/?action=fetch&id=${id}`));
}

/** every page of a posture query, following the WARNING's URL */
async function posture(s: Simulator, query: string, titles: Record<string, string>, version = '2.0'): Promise<{ records: PostureRecord[]; pages: number }> {
  let url: string | null = `${s.url}/api/${version}/fo/compliance/posture/info/?action=list&details=All&output_format=xml&show_remediation_info=1&cause_of_failure=1&${query}`;
  const records: PostureRecord[] = [];
  let pages = 0;
  while (url) {
    const recs = await parsePostureToArray(body(url), { policyTitles: titles });
    pages++;
    const summary = recs.at(-1) as PostureSummaryRecord;
    records.push(...recs.slice(0, -1));
    url = summary.paging ? summary.paging.url : null;
    if (summary.paging) {
      const next = new URL(summary.paging.url ?? '').searchParams.get('id_min');
      if (next !== summary.paging.nextIdMin) throw new Error('id_min of the URL and nextIdMin differ');
    }
  }
  return { records, pages };
}

async function policyTitles(s: Simulator): Promise<Record<string, string>> {
  const xml = (await call(s.url, '/api/2.0/fo/compliance/policy/?action=list&details=Basic')).text();
  return Object.fromEntries([...xml.matchAll(/<ID>(\d+)<\/ID>\s*<TITLE><!\[CDATA\[(.*?)\]\]><\/TITLE>/g)].map((m) => [m[1]!, m[2]!]));
}

const findings = (recs: Array<ReportRecord | PostureRecord>): Map<string, FindingRecord> =>
  new Map(recs.filter((r): r is FindingRecord => r.type === 'finding').map((f) => [f.findingKey, f]));
const hosts = (recs: Array<ReportRecord | PostureRecord>): Map<string, HostRecord> =>
  new Map(recs.filter((r): r is HostRecord => r.type === 'host').map((h) => [`${h.policyId} ${h.hostKey}`, h]));
/** a report record without the fields posture answers do not carry */
const asPosture = (f: FindingRecord): FindingRecord => ({ ...f, exception: null, deprecated: null });
const hostAsPosture = (h: HostRecord): HostRecord => ({ ...h, lastScanDate: null, tags: [] });

t.test('the paged posture answers give the records of the latest report, field by field', async (t) => {
  const s = await sim(t);
  const titles = await policyTitles(s);
  t.same(Object.keys(titles), ['3001', '3002']);
  const rep = await report(s, '5002');
  const { records, pages } = await posture(s, 'policy_ids=3001,3002&truncation_limit=150', titles);
  const want = findings(rep);
  const got = findings(records);
  t.ok(want.size > 600, `the report has ${want.size} findings`);
  t.equal(pages, Math.ceil(want.size / 150), `${pages} pages of 150 rows`);
  t.equal(got.size, want.size, 'as many findings');
  let same = 0;
  let firstDiff: { key: string; got: FindingRecord | undefined; want: FindingRecord } | null = null;
  for (const [key, f] of want) {
    const p = got.get(key);
    if (p && JSON.stringify(p) === JSON.stringify(asPosture(f))) same++;
    else firstDiff ??= { key, got: p, want: asPosture(f) };
  }
  t.equal(same, want.size, 'every finding equal, field by field');
  if (firstDiff) t.same(firstDiff.got, firstDiff.want, `the first different finding (${firstDiff.key})`);
  const first = [...want.values()].find((f) => f.exception === null && f.testStatus === 'Failed')!;
  t.same(got.get(first.findingKey), first, 'a failed finding without exception is equal as a whole');
  const wantHosts = new Map([...hosts(rep)].map(([k, h]) => [k, hostAsPosture(h)]));
  t.same(hosts(records), wantHosts, 'hosts equal (but for last scan date and tags)');
  t.equal(records.filter((r) => r.type === 'rejected').length, 0);
});

t.test('API 3.0 groups rows by policy; the records are the same', async (t) => {
  const s = await sim(t);
  const titles = await policyTitles(s);
  const v2 = await posture(s, 'policy_ids=3001,3002&truncation_limit=400', titles);
  const v3 = await posture(s, 'policy_ids=3001,3002&truncation_limit=400', titles, '3.0');
  const raw = (await call(s.url, '/api/3.0/fo/compliance/posture/info/?action=list&policy_ids=3001&truncation_limit=2')).text();
  t.match(raw, /<POLICY_LIST>\s*<POLICY>\s*<ID>3001<\/ID>\s*<INFO_LIST>/);
  t.same(findings(v3.records), findings(v2.records));
});

t.test('status_changes_since returns only the rows whose status changed since', async (t) => {
  const s = await sim(t);
  const titles = await policyTitles(s);
  const before = findings(await report(s, '5001'));
  const after = findings(await report(s, '5002'));
  const changed = [...after.values()].filter((f) => before.get(f.findingKey)?.testStatus !== f.testStatus).map((f) => f.findingKey);
  t.ok(changed.length > 20 && changed.length < after.size / 2, `${changed.length} of ${after.size} rows changed`);
  const since = await posture(s, `policy_ids=3001,3002&truncation_limit=50&status_changes_since=2026-11-11T00:00:00Z`, titles);
  t.same([...findings(since.records).keys()].sort(), changed.sort());
  const all = await posture(s, `policy_ids=3001,3002&truncation_limit=0&status_changes_since=2026-11-01T00:00:00Z`, titles);
  t.equal(all.pages, 1, 'truncation_limit=0: one page');
  t.equal(findings(all.records).size, after.size, 'since before the first scan: every row');
});

t.test('409, a cut answer, and bad parameters', async (t) => {
  const s = await sim(t);
  const q = '/api/2.0/fo/compliance/posture/info/?action=list&policy_ids=3001&truncation_limit=200';
  s.setFaults({ conflicts409: 1, toWaitSec: 7 });
  const conflict = await call(s.url, q);
  t.equal(conflict.status, 409);
  t.equal(conflict.headers['x-ratelimit-towait-sec'], '7');
  const e409 = await parsePostureToArray(once(conflict.body)).catch((e: unknown) => e);
  t.ok(e409 instanceof QualysReturnError && e409.qualysCode === '1965', 'the 409 body parses as a Qualys error');
  s.setFaults({ truncateAtByte: 20_000 });
  const cut = await parsePostureToArray(body(`${s.url}${q}`)).catch((e: unknown) => e);
  t.ok(cut instanceof ReportError && cut.code === 'TRUNCATED', 'a cut answer is refused as TRUNCATED');
  s.setFaults(null);
  const whole = await parsePostureToArray(body(`${s.url}${q}`));
  t.equal((whole.at(-1) as PostureSummaryRecord).findings, 200, 'the next answer is whole');
  const bad = async (query: string, code: string, text: RegExp): Promise<void> => {
    const a = await call(s.url, `/api/2.0/fo/compliance/posture/info/?${query}`);
    t.equal(a.status, 400, query);
    t.equal(simple(a.text()).code, code);
    t.match(simple(a.text()).text, text);
  };
  await bad('action=list', '1903', /policy_id/);
  await bad(`action=list&policy_ids=${Array.from({ length: 11 }, (_, i) => 3001 + i).join(',')}`, '1905', /at most 10/);
  await bad('action=list&policy_ids=9999', '1905', /not found: 9999/);
  await bad('action=list&policy_ids=3001&status_changes_since=yesterday', '1905', /status_changes_since/);
  await bad('action=list&policy_ids=3001&truncation_limit=-1', '1905', /truncation_limit/);
  await bad('action=list&policy_ids=3001&output_format=csv', '1905', /output_format/);
});

t.test('the policy list names when each policy was last evaluated', async (t) => {
  const s = await sim(t);
  const xml = (await call(s.url, '/api/2.0/fo/compliance/policy/?action=list&details=Basic')).text();
  t.match(xml, /<ID>3001<\/ID>[\s\S]*?<LAST_EVALUATED><DATETIME>2026-11-12T08:00:00Z<\/DATETIME><\/LAST_EVALUATED>\s*<STATUS>Active<\/STATUS>/);
});
