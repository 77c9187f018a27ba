/** Whole-report helpers: digest (length + SHA-256), writing to a file, and a spec of a target size. */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { reportChunks } from './generate.ts';
import { reportSpec, type ReportSpec } from './spec.ts';

export interface ReportDigest {
  bytes: number;
  sha256: string;
}

/** Streams the report once; yields to the event loop between chunks so a server stays responsive. */
export async function reportDigest(spec: ReportSpec): Promise<ReportDigest> {
  const h = createHash('sha256');
  let bytes = 0;
  let n = 0;
  for (const b of reportChunks(spec)) {
    h.update(b);
    bytes += b.length;
    if (++n % 16 === 0) await new Promise<void>((r) => setImmediate(r));
  }
  return { bytes, sha256: h.digest('hex') };
}

/** Writes the report to a file with backpressure; resolves to its digest. */
export async function writeReportFile(spec: ReportSpec, path: string): Promise<ReportDigest> {
  const out = createWriteStream(path);
  const h = createHash('sha256');
  let bytes = 0;
  try {
    for (const b of reportChunks(spec)) {
      h.update(b);
      bytes += b.length;
      if (!out.write(b)) await once(out, 'drain');
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return { bytes, sha256: h.digest('hex') };
}

/**
 * A by-host canonical spec of roughly targetBytes: 60 controls x up to 3 instances, the host count
 * scaled from a measured sample of the same form.
 */
export function benchSpec(targetBytes: number, overrides: Partial<ReportSpec> = {}): ReportSpec {
  const make = (hosts: number): ReportSpec =>
    reportSpec({ id: 'bench', title: 'QPC-BENCH Policy Report', seed: 42, ...overrides, size: { hosts, controls: 60, instancesPerControl: 3, policies: 1, ...overrides.size } });
  const sample = 40;
  const len = (s: ReportSpec): number => {
    let n = 0;
    for (const b of reportChunks(s)) n += b.length;
    return n;
  };
  const fixed = len(make(0));
  const perHost = (len(make(sample)) - fixed) / sample;
  const hosts = Math.max(1, Math.round((targetBytes - fixed) / perHost));
  return make(hosts);
}
