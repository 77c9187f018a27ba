import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { FindingRecord, HostRecord, ReportRecord, SummaryRecord } from '@qpc/pc-report';
import {
  benchSpec,
  DEMO_SCENARIO,
  expectedRecords,
  generateReport,
  reportChunks,
  reportDigest,
  reportSpec,
  resolveScenario,
  writeReportFile,
  type ReportSpec,
} from '../src/index.ts';
import { extract } from './extract.ts';

const small = (over: Partial<ReportSpec> = {}): ReportSpec =>
  reportSpec({ id: '7', title: 'QPC-T ]]> odd & <title> Zürich', seed: 7, size: { hosts: 40, controls: 12, instancesPerControl: 3, policies: 2 }, ...over });

function records(spec: ReportSpec): { all: ReportRecord[]; findings: Map<string, FindingRecord>; hosts: HostRecord[]; summary: SummaryRecord } {
  const all = [...expectedRecords(spec)];
  const findings = new Map<string, FindingRecord>();
  for (const r of all) if (r.type === 'finding') findings.set(r.findingKey, r);
  return { all, findings, hosts: all.filter((r): r is HostRecord => r.type === 'host'), summary: all.at(-1) as SummaryRecord };
}

const VARIANT_CASES: Array<[string, Partial<ReportSpec>]> = [
  ['canonical by-host', {}],
  ['canonical by-control', { layout: 'by-control' }],
  [
    'every other variant, by-control',
    {
      layout: 'by-control',
      variants: { root: 'POLICY_REPORT', hostIdElement: 'HOST_ID', technology: 'text', evidence: 'text', criticality: 'attributes', text: 'escaped', bom: true, comments: true, statusCase: 'mixed', unknownElements: true, ipv6Share: 0.3, optionalFields: true },
    },
  ],
  [
    'field forms, by-host',
    {
      variants: { root: 'COMPLIANCE_POLICY_REPORT', hostIdElement: 'QUALYS_HOST_ID', technology: 'fields', evidence: 'fields', criticality: 'fields', text: 'escaped', bom: false, comments: false, statusCase: 'lower', unknownElements: true, ipv6Share: 1, optionalFields: false },
    },
  ],
  ['no host id, upper-case status', { variants: { root: 'COMPLIANCE_POLICY_REPORT', hostIdElement: 'none', technology: 'element', evidence: 'element', criticality: 'element', text: 'cdata', bom: false, comments: true, statusCase: 'upper', unknownElements: false, ipv6Share: 0.5, optionalFields: true } }],
];

t.test('generated XML is well-formed and matches expectedRecords, in every variant', async (t) => {
  for (const [name, over] of VARIANT_CASES) {
    const spec = small(over);
    const x = extract(reportChunks(spec));
    const e = records(spec);
    t.same(x.errors, [], `${name}: well-formed`);
    const header = e.all[0];
    t.equal(header?.type, 'header');
    t.equal(x.root, header?.type === 'header' ? header.root : null, `${name}: root`);
    t.equal(x.title, spec.title, `${name}: title decoded`);
    t.same(x.policies, ['1234', '1235'], `${name}: policies`);
    t.equal(x.resultElements, e.summary.findings, `${name}: one result element per finding`);
    t.equal(x.results.size, e.findings.size, `${name}: distinct finding keys`);
    let same = 0;
    let evidenceSame = 0;
    for (const [k, f] of e.findings) {
      const got = x.results.get(k);
      if (got?.status === f.testStatus) same++;
      if (spec.variants.evidence !== 'text' && got?.expected === f.expected && got?.actual === f.actual) evidenceSame++;
    }
    t.equal(same, e.findings.size, `${name}: every finding key and test status`);
    if (spec.variants.evidence !== 'text') t.equal(evidenceSame, e.findings.size, `${name}: expected and actual decoded`);
    for (const pol of x.policies) t.same(x.hosts.get(pol), e.hosts.filter((h) => h.policyId === pol).map((h) => h.hostKey), `${name}: hosts of ${pol}`);
    for (const tag of ['PCI & SOX', '<DMZ>', 'Zürich', '東京', 'Owner "ops"']) t.ok(x.tags.has(tag), `${name}: tag ${tag}`);
    const first = reportChunks(spec).next().value as Buffer;
    t.equal(first.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])), spec.variants.bom, `${name}: BOM`);
  }
});

t.test('expected records: counts, severities, labels, statuses, tags', async (t) => {
  const spec = small();
  const e = records(spec);
  const s = e.summary;
  t.equal(s.findings, s.passed + s.failed + s.error);
  t.ok(s.passed > 0 && s.failed > 0 && s.error > 0, 'all three test statuses');
  t.equal(s.hosts, 80, '40 hosts x 2 policies');
  t.equal(s.policies, 2);
  const d = await reportDigest(spec);
  t.equal(s.bytes, d.bytes);
  const header = e.all[0];
  if (header?.type !== 'header') throw new Error('no header');
  t.same(header.declared, { totalHosts: 40, totalControls: 12, totalControlInstances: s.findings, passed: s.passed, failed: s.failed, error: s.error });
  const f = [...e.findings.values()];
  t.ok(f.some((x) => x.severity === null && x.criticalityLabel === 'Unknown'), 'a control without criticality');
  t.ok(f.every((x) => (x.testStatus === 'Passed') === (x.status === 'Closed')));
  t.ok(f.some((x) => x.exception !== null), 'some exceptions');
  t.ok(f.some((x) => x.remediation?.includes('\n')), 'inner line breaks kept');
  t.ok(f.every((x) => x.remediation === x.remediation?.trim()), 'trimmed');
  const byHostCtl = new Map<string, Set<string>>();
  for (const x of f) {
    const k = `${x.hostKey}|${x.policyId}|${x.controlId}`;
    byHostCtl.set(k, (byHostCtl.get(k) ?? new Set()).add(`${x.technology}|${x.instance}`));
  }
  t.ok([...byHostCtl.values()].some((v) => v.size > 1), 'controls with several instances on one host');
  t.ok(e.hosts.some((h) => h.hostname === h.netbios && h.dns === null), 'hostname from NetBIOS');
  t.ok(e.hosts.every((h) => new Set(h.tags).size === h.tags.length), 'tags deduplicated');
  const textForm = records(small({ variants: { ...spec.variants, evidence: 'text', technology: 'text' } }));
  const tf = [...textForm.findings.values()];
  t.ok(tf.every((x) => x.technologyId === null));
  t.ok(tf.filter((x) => x.testStatus === 'Error').every((x) => x.expected === null && x.actual?.startsWith('Error')));
  t.ok(tf.some((x) => x.expected === 'DB,EXTENDED | OS'), 'a | inside the expected value survives the split');
});

t.test('determinism: same spec, same bytes; another seed differs; layout changes bytes, not records', async (t) => {
  const a = await reportDigest(small());
  t.same(await reportDigest(small()), a);
  const b = await reportDigest(small({ seed: 8 }));
  t.not(b.sha256, a.sha256);
  const byControl = small({ layout: 'by-control' });
  t.not((await reportDigest(byControl)).sha256, a.sha256);
  const keys = (s: ReportSpec): string[] => [...records(s).findings.values()].map((f) => `${f.findingKey}:${f.testStatus}`).sort();
  t.same(keys(byControl), keys(small()));
  t.notSame(keys(small({ seed: 8 })), keys(small()));
  // the Readable and the file writer give the same bytes
  const h = createHash('sha256');
  for await (const c of generateReport(small())) h.update(c as Buffer);
  t.equal(h.digest('hex'), a.sha256);
  const dir = await mkdtemp(path.join(tmpdir(), 'qpc-sim-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'r.xml');
  t.same(await writeReportFile(small(), file), a);
  t.equal(createHash('sha256').update(await readFile(file)).digest('hex'), a.sha256);
});

function undated(f: FindingRecord): Partial<FindingRecord> {
  const { evaluationDate: _e, firstFailDate: _ff, lastFailDate: _lf, firstPassDate: _fp, lastPassDate: _lp, exception, ...rest } = f;
  return { ...rest, exception: exception && { ...exception, endDate: null, createdDate: null, modifiedDate: null } };
}

t.test('derived reports differ exactly as their mutations say', async (t) => {
  const sc = resolveScenario(DEMO_SCENARIO);
  const base = sc.reports.find((r) => r.id === '1001')!;
  const later = sc.reports.find((r) => r.id === '1002')!;
  t.same(later.mutations.map((m) => m.type), ['flip', 'dropHosts', 'dropControls', 'dropInstances']);
  const A = records(base);
  const B = records(later);
  const hostsA = new Set(A.hosts.map((h) => h.hostKey));
  const hostsB = new Set(B.hosts.map((h) => h.hostKey));
  const dropped = [...hostsA].filter((h) => !hostsB.has(h));
  t.ok([...hostsB].every((h) => hostsA.has(h)), 'no new hosts');
  t.ok(dropped.length >= 4 && dropped.length <= 25, `about 5% of 240 hosts dropped (${dropped.length})`);
  let flipped = 0;
  let kept = 0;
  const appeared: string[] = [];
  const changed: string[] = [];
  const badFlips: string[] = [];
  for (const [k, b] of B.findings) {
    const a = A.findings.get(k);
    if (!a) appeared.push(k);
    else if (a.testStatus === b.testStatus) {
      kept++;
      // dates move with the later generation date; everything else is the same record
      if (JSON.stringify(undated(b)) !== JSON.stringify(undated(a))) changed.push(k);
    } else {
      flipped++;
      if (b.testStatus !== (a.testStatus === 'Passed' ? 'Failed' : 'Passed')) badFlips.push(k);
    }
  }
  t.same(appeared, [], 'no finding appears');
  t.same(changed, [], 'an unflipped finding is the same record');
  t.same(badFlips, [], 'flip rule: Passed -> Failed, Failed and Error -> Passed');
  const share = flipped / (flipped + kept);
  t.ok(share > 0.07 && share < 0.13, `about 10% flipped (${(share * 100).toFixed(1)}%)`);
  const firstHosts = new Set(Array.from({ length: 20 }, (_, i) => `qid:${98001 + i}`));
  const gone = [...A.findings.values()].filter((a) => !B.findings.has(a.findingKey));
  t.ok(gone.some((a) => !hostsB.has(a.hostKey)), 'dropped hosts lose their findings');
  for (const h of firstHosts) {
    if (!hostsB.has(h)) continue;
    t.notOk([...B.findings.values()].some((b) => b.hostKey === h && ['1003', '1004'].includes(b.controlId)), `controls dropped on ${h}`);
    t.ok([...B.findings.values()].some((b) => b.hostKey === h), `${h} keeps other controls`);
  }
  t.ok([...B.findings.values()].some((b) => b.hostKey === 'qid:98030' && b.controlId === '1003'), 'other hosts keep those controls');
  // instance drops: a control of a kept host loses some, never all, of its instances
  const perCtl = (R: typeof A): Map<string, number> => {
    const m = new Map<string, number>();
    for (const f of R.findings.values()) m.set(`${f.hostKey}|${f.controlId}`, (m.get(`${f.hostKey}|${f.controlId}`) ?? 0) + 1);
    return m;
  };
  const ca = perCtl(A);
  const cb = perCtl(B);
  let fewer = 0;
  for (const [k, n] of cb) if (n < (ca.get(k) ?? 0)) fewer++;
  t.ok(fewer > 0, 'instances dropped');
  const lostAll = [...ca.keys()].filter((k) => {
    const [h, c] = k.split('|');
    return hostsB.has(h!) && !(firstHosts.has(h!) && ['1003', '1004'].includes(c!)) && (cb.get(k) ?? 0) === 0;
  });
  t.same(lostAll, [], 'every other control of a kept host keeps its first instance');
});

t.test('benchSpec hits its target size roughly; scenario validation names the problem', async (t) => {
  const spec = benchSpec(3_000_000);
  const d = await reportDigest(spec);
  t.ok(Math.abs(d.bytes - 3_000_000) / 3_000_000 < 0.05, `${d.bytes} bytes`);
  t.throws(() => resolveScenario({ reports: [{ id: 1, title: 'a' }, { id: 2, title: 'b', derivedFrom: 1, seed: 3 }] }), { name: 'ScenarioError', code: 'SIM_SCENARIO' });
  t.throws(() => resolveScenario({ reports: [{ id: 2, title: 'b', derivedFrom: 1 }] }), /derivedFrom 1/);
  t.throws(() => resolveScenario({ reports: [{ id: 1, title: 'a', size: { hosts: -1 } }] }), /invalid scenario/);
  t.throws(() => resolveScenario({ reports: [{ id: 1, title: 'a', bogus: true }] }), /invalid scenario/);
  t.throws(() => resolveScenario({ reports: [{ id: 1, title: 'a', launched: 'yesterday' }] }), /not a time/);
  const now = Date.parse('2026-11-20T10:00:00Z');
  const sc = resolveScenario({ reports: [{ id: 1, title: 'a', launched: '-2d', expires: '+90m' }] }, now);
  t.equal(sc.reports[0]?.launchedAt, '2026-11-18T10:00:00Z');
  t.equal(sc.reports[0]?.expiresAt, '2026-11-20T11:30:00Z');
  t.equal(sc.user.login, 'demo');
});

t.test('rejectSamples: broken elements at the lines the rejected records name; good records unchanged', async (t) => {
  for (const layout of ['by-host', 'by-control'] as const) {
    const plain = small({ layout, size: { hosts: 8, controls: 5, instancesPerControl: 2, policies: 2 } });
    const spec = { ...plain, variants: { ...plain.variants, rejectSamples: true } };
    const text = Buffer.concat([...reportChunks(spec)]).toString('utf8');
    t.same(extract(reportChunks(spec)).errors, [], `${layout}: still well-formed`);
    const all = [...expectedRecords(spec)];
    const rejected = all.filter((r) => r.type === 'rejected');
    t.equal(rejected.length, layout === 'by-host' ? 6 : 8, `${layout}: samples per policy`);
    t.same(new Set(rejected.map((r) => r.reason)), new Set(['missing-control-id', 'missing-host-identity', 'unknown-test-status']));
    const lines = text.split('\n');
    for (const r of rejected) {
      const at = lines[(r.line ?? 0) - 1] ?? '';
      if (r.reason === 'missing-control-id') t.match(at, /^<CONTROL>$/, `${layout}: line ${r.line}`);
      else if (r.reason === 'missing-host-identity') {
        const host = `${at}\n${lines[r.line ?? 0] ?? ''}`.split('</HOST>')[0] ?? '';
        t.match(host, /^<HOST>/);
        t.notMatch(host, /<IP|HOST_ID>/, `${layout}: no identity at ${r.line}`);
      }
      else t.match(at + (lines[r.line ?? 0] ?? ''), /Not Applicable/, `${layout}: status at ${r.line}`);
    }
    const summary = all.at(-1) as SummaryRecord;
    t.equal(summary.rejected, rejected.length);
    const good = (s: ReportSpec): string[] => [...records(s).findings.keys()].sort();
    t.same(good(spec), good(plain), `${layout}: the good findings are the same`);
  }
});
