/**
 * `npm run bench -- posture`: the posture parser against a bare htmlparser2 pass that only counts tags
 * (the ceiling) on the same paged answers, made once by the simulator's posture writer and reused from
 * the OS temp dir. Each measurement runs in a fresh child process (RSS sampled every 50 ms).
 *
 * Env: QPC_BENCH_POSTURE_ROWS (default 100000; 1000000 for the large run), QPC_BENCH_POSTURE_PAGE
 * (rows per page, default 10000), QPC_BENCH_ROUNDS (default 3).
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser } from 'htmlparser2';
import { parsePosture } from '../src/parse-posture.ts';

const HWM = 256 * 1024;
const CONTROLS = 25;

interface ChildResult {
  mode: string;
  seconds: number;
  cpuSeconds: number;
  findings: number;
  tags: number;
  peakRssMb: number;
  bytes: number;
}

async function child(mode: string, files: string[]): Promise<ChildResult> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let findings = 0;
  let tags = 0;
  let bytes = 0;
  for (const file of files) {
    bytes += statSync(file).size;
    const source = createReadStream(file, { highWaterMark: HWM });
    if (mode === 'ceiling') {
      const decoder = new TextDecoder();
      const p = new Parser(
        {
          onopentagname() {
            tags++;
          },
        },
        { xmlMode: true },
      );
      // fed like ours: 64 KB slices of each chunk, decoded incrementally
      for await (const chunk of source as AsyncIterable<Buffer>) {
        for (let off = 0; off < chunk.length; off += 64 * 1024) p.write(decoder.decode(chunk.subarray(off, off + 64 * 1024), { stream: true }));
      }
      p.end();
    } else {
      for await (const batch of parsePosture(source, { batchSize: 500 })) for (const r of batch) if (r.type === 'finding') findings++;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage.rss());
  return { mode, seconds, cpuSeconds: (cu.user + cu.system) / 1e6, findings, tags, peakRssMb: peak / 2 ** 20, bytes };
}

/** The answer pages for `rows` rows, `page` rows each, written once by the simulator and reused. */
async function pageFiles(rows: number, page: number): Promise<string[]> {
  const dir = path.join(tmpdir(), 'qpc-bench', `posture-${rows}-${page}`);
  const done = path.join(dir, 'done');
  if (existsSync(done)) {
    const files = readFileSync(done, 'utf8').split('\n').filter(Boolean);
    console.log(`reusing ${files.length} pages in ${dir}`);
    return files;
  }
  mkdirSync(dir, { recursive: true });
  // the simulator is an app of this repository, not a dependency of the package (packages never import apps)
  const { resolveScenario, postureChunks, postureSources } = await import('@qpc/qualys-sim');
  const hosts = Math.ceil(rows / CONTROLS);
  const scenario = resolveScenario({
    reports: [{ id: '9001', title: 'Posture bench', seed: 9001, size: { hosts, controls: CONTROLS, instancesPerControl: 1, policies: 1 }, generatedAt: '2026-11-20T10:00:00Z' }],
  });
  const sources = [...postureSources(scenario).values()];
  console.log(`generating ${rows} rows (${hosts} hosts x ${CONTROLS} controls) in pages of ${page} rows ...`);
  const t0 = performance.now();
  const files: string[] = [];
  let idMin = 0;
  for (let n = 0; ; n++) {
    const file = path.join(dir, `page-${String(n).padStart(4, '0')}.xml`);
    const out = createWriteStream(`${file}.tmp`);
    let last: Buffer = Buffer.alloc(0);
    const q = { version: '2.0' as const, sources, limit: page, idMin, since: null, remediation: true, causeOfFailure: true, nextUrl: (id: number) => `https://qualysapi.example.com/api/2.0/fo/compliance/posture/info/?action=list&policy_ids=1234&truncation_limit=${page}&id_min=${id}` };
    for (const chunk of postureChunks(q)) {
      last = chunk;
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'close');
    renameSync(`${file}.tmp`, file);
    files.push(file);
    const next = /id_min=(\d+)\]\]><\/URL>/.exec(last.toString('utf8'));
    if (!next) break;
    idMin = Number(next[1]);
  }
  writeFileSync(done, files.join('\n'));
  console.log(`  ${files.length} pages in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return files;
}

function runChild(mode: string, files: string[]): ChildResult {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', mode, ...files], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`child ${mode} failed (${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as ChildResult;
}

async function main(): Promise<void> {
  const rows = Number(process.env.QPC_BENCH_POSTURE_ROWS ?? 100_000);
  const page = Number(process.env.QPC_BENCH_POSTURE_PAGE ?? 10_000);
  const rounds = Math.max(1, Number(process.env.QPC_BENCH_ROUNDS ?? 3));
  const files = await pageFiles(rows, page);
  const show = (r: ChildResult): void =>
    console.log(
      `  ${r.mode.padEnd(8)} ${(r.bytes / 1e6).toFixed(0)} MB in ${r.seconds.toFixed(2)} s (cpu ${r.cpuSeconds.toFixed(2)} s): ${(r.bytes / 1e6 / r.seconds).toFixed(1)} MB/s, ${r.findings || r.tags} ${r.findings ? 'findings' : 'tags'}, peak RSS ${r.peakRssMb.toFixed(0)} MB`,
    );
  // ceiling and ours alternate, so that both see the same machine load; the ratio is the median of the rounds'
  const pairs: { ceiling: ChildResult; ours: ChildResult }[] = [];
  for (let i = 0; i < rounds; i++) {
    const ceiling = runChild('ceiling', files);
    show(ceiling);
    const ours = runChild('ours', files);
    show(ours);
    if (ours.findings !== rows) throw new Error(`parsed ${ours.findings} findings, expected ${rows}`);
    pairs.push({ ceiling, ours });
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const best = (rs: ChildResult[]): ChildResult => rs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const ours = best(pairs.map((p) => p.ours));
  const ceiling = best(pairs.map((p) => p.ceiling));
  const out = {
    rows,
    pages: files.length,
    mb: +(ours.bytes / 1e6).toFixed(1),
    ours_mb_s: +(ours.bytes / 1e6 / ours.seconds).toFixed(1),
    ceiling_mb_s: +(ceiling.bytes / 1e6 / ceiling.seconds).toFixed(1),
    ratio: +median(pairs.map((p) => p.ceiling.seconds / p.ours.seconds)).toFixed(3),
    ratio_cpu: +median(pairs.map((p) => p.ceiling.cpuSeconds / p.ours.cpuSeconds)).toFixed(3),
    rows_per_s: Math.round(rows / ours.seconds),
    peak_rss_mb: Math.round(Math.max(...pairs.map((p) => p.ours.peakRssMb))),
    ceiling_peak_rss_mb: Math.round(Math.max(...pairs.map((p) => p.ceiling.peakRssMb))),
  };
  console.log(`ratio ${out.ratio} (median of ${rounds} alternating rounds; cpu time ratio ${out.ratio_cpu}); goal >= 0.75`);
  console.log(JSON.stringify(out));
}

const i = process.argv.indexOf('--child');
if (i !== -1) {
  const r = await child(process.argv[i + 1]!, process.argv.slice(i + 2));
  console.log(JSON.stringify(r));
} else {
  await main();
}
