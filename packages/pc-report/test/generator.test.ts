/**
 * Round trip with the simulator's generator: the records parsed from a generated report equal the
 * generator's ground truth (by key, in any order; header, policies and summary exact), for many seeds,
 * both layouts and every variant. (@qpc/qualys-sim is resolved through the workspace link; it is not a
 * declared dependency because it depends on this package.)
 */
import t, { type Test } from 'tap';
import type { Readable } from 'node:stream';
import { expectedRecords, generateReport, reportSpec, type ReportSpec, type Variants } from '@qpc/qualys-sim';
import { parseReportToArray } from '../src/parse-report.ts';
import type { ReportRecord } from '../src/records.ts';

function byKey(records: Iterable<ReportRecord>) {
  const m = new Map<string, ReportRecord>();
  const dup: string[] = [];
  for (const r of records) {
    let key: string;
    switch (r.type) {
      case 'header':
      case 'summary':
        key = r.type;
        break;
      case 'policy':
        key = `policy:${r.policyId}`;
        break;
      case 'host':
        key = `host:${r.policyId}:${r.hostKey}`;
        break;
      case 'finding':
        key = `finding:${r.findingKey}`;
        break;
      case 'rejected':
        key = `rejected:${r.line}:${r.reason}`;
        break;
    }
    if (m.has(key)) dup.push(key);
    m.set(key, r);
  }
  return { m, dup };
}

/** a small deterministic PRNG for picking specs */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

function randomSpec(seed: number): ReportSpec {
  const r = rng(seed);
  const variants: Variants = {
    root: pick(r, ['COMPLIANCE_POLICY_REPORT', 'POLICY_REPORT'] as const),
    hostIdElement: pick(r, ['QG_HOSTID', 'HOST_ID', 'QUALYS_HOST_ID', 'none'] as const),
    technology: pick(r, ['element', 'text', 'fields'] as const),
    evidence: pick(r, ['element', 'fields', 'text'] as const),
    criticality: pick(r, ['element', 'attributes', 'fields'] as const),
    text: pick(r, ['cdata', 'escaped'] as const),
    bom: r() < 0.5,
    comments: r() < 0.5,
    statusCase: pick(r, ['title', 'upper', 'lower', 'mixed'] as const),
    unknownElements: r() < 0.5,
    ipv6Share: pick(r, [0, 0.3, 1]),
    optionalFields: r() < 0.5,
  };
  return reportSpec({
    id: `rt-${seed}`,
    title: `Round trip ${seed}`,
    seed,
    layout: pick(r, ['by-host', 'by-control'] as const),
    variants,
    size: { hosts: 1 + Math.floor(r() * 12), controls: 1 + Math.floor(r() * 8), instancesPerControl: 1 + Math.floor(r() * 3), policies: 1 + Math.floor(r() * 3) },
    ratios: { passed: r() * 5, failed: r() * 5, error: r() },
    mutations: r() < 0.3 ? [{ type: 'flip', percent: 20 }] : [],
  });
}

async function roundTrip(t: Test, spec: ReportSpec, chunkBytes?: number) {
  const source: AsyncIterable<Uint8Array> = chunkBytes ? rechunk(generateReport(spec), chunkBytes) : generateReport(spec);
  const got = byKey(await parseReportToArray(source, { batchSize: 37 }));
  const want = byKey(expectedRecords(spec));
  t.strictSame(got.dup, [], 'no duplicate keys parsed');
  t.strictSame(got.m.get('header'), want.m.get('header'), 'header');
  t.strictSame(got.m.get('summary'), want.m.get('summary'), 'summary exact');
  t.equal(got.m.size, want.m.size, 'as many records as expected');
  let diff = 0;
  for (const [k, w] of want.m) {
    const g = got.m.get(k);
    if (JSON.stringify(sortKeys(g)) !== JSON.stringify(sortKeys(w))) {
      if (++diff <= 2) t.strictSame(g, w, `record ${k}`);
    }
  }
  t.equal(diff, 0, `every expected record parsed identically (${want.m.size})`);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, sortKeys(x)]));
  return v;
}

async function* rechunk(src: Readable, n: number): AsyncGenerator<Uint8Array> {
  for await (const b of src as AsyncIterable<Buffer>) for (let i = 0; i < b.length; i += n) yield b.subarray(i, i + n);
}

t.test('canonical spec, both layouts', async (t) => {
  for (const layout of ['by-host', 'by-control'] as const) {
    await t.test(layout, (t) => roundTrip(t, reportSpec({ id: 'c', title: 'Canonical', layout })));
  }
});

t.test('every variant value on its own, both layouts', async (t) => {
  const values: { [K in keyof Variants]: readonly Variants[K][] } = {
    root: ['POLICY_REPORT'],
    hostIdElement: ['HOST_ID', 'QUALYS_HOST_ID', 'none'],
    technology: ['text', 'fields'],
    evidence: ['fields', 'text'],
    criticality: ['attributes', 'fields'],
    text: ['escaped'],
    bom: [true],
    comments: [true],
    statusCase: ['upper', 'lower', 'mixed'],
    unknownElements: [true],
    ipv6Share: [1],
    optionalFields: [false],
  };
  for (const [k, vs] of Object.entries(values)) {
    for (const v of vs) {
      for (const layout of ['by-host', 'by-control'] as const) {
        await t.test(`${k}=${String(v)} ${layout}`, (t) =>
          roundTrip(t, reportSpec({ id: 'v', title: 'Variant', seed: 7, layout, variants: { [k]: v } as unknown as Variants, size: { hosts: 6, controls: 5, instancesPerControl: 2, policies: 2 } })),
        );
      }
    }
  }
});

t.test('random seeds, layouts and variants', async (t) => {
  for (let seed = 1; seed <= 60; seed++) {
    const spec = randomSpec(seed);
    await t.test(`seed ${seed} ${spec.layout}`, (t) => roundTrip(t, spec, seed % 5 === 0 ? 1 + (seed % 97) : undefined));
  }
});
