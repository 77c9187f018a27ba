/**
 * `npm run bench -- parse`: our parser against a bare htmlparser2 pass (the ceiling: it only counts
 * tags) on the same ~1 GB report, plus the peak RSS on a 100 MB report (the "flat memory" check).
 * Each measurement runs in a fresh child process (RSS sampled every 50 ms); the report files are made
 * once by the simulator's generator (or a simple fallback) and reused from the OS temp dir.
 *
 * Env: QPC_BENCH_MB (default 1000) size of the large file; QPC_BENCH_ROUNDS (default 3).
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser } from 'htmlparser2';
import { parseReport } from '../src/parse-report.ts';

const HWM = 256 * 1024;

interface ChildResult {
  mode: string;
  seconds: number;
  cpuSeconds: number;
  records: number;
  tags: number;
  peakRssMb: number;
  bytes: number;
}

async function child(mode: string, file: string): Promise<ChildResult> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let records = 0;
  let tags = 0;
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
    for await (const batch of parseReport(source, { batchSize: 500 })) records += batch.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage.rss());
  return { mode, seconds, cpuSeconds: (cu.user + cu.system) / 1e6, records, tags, peakRssMb: peak / 2 ** 20, bytes: statSync(file).size };
}

/** A simple stand-in generator, used only when @qpc/qualys-sim is not available. */
async function fallbackReport(file: string, targetBytes: number): Promise<void> {
  const out = createWriteStream(file);
  const write = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await write('<?xml version="1.0" encoding="UTF-8" ?>\n<COMPLIANCE_POLICY_REPORT>\n<HEADER><NAME><![CDATA[Bench]]></NAME></HEADER>\n<RESULTS><POLICY><ID>1</ID><TITLE><![CDATA[Bench policy]]></TITLE><HOST_LIST>\n');
  let bytes = 0;
  for (let h = 0; bytes < targetBytes; h++) {
    let s = `<HOST><IP network_id="0">10.${(h >> 16) & 255}.${(h >> 8) & 255}.${h & 255}</IP><QG_HOSTID>${100000 + h}</QG_HOSTID><DNS><![CDATA[host${h}.example.com]]></DNS><ASSET_TAGS><ASSET_TAG><![CDATA[Bench]]></ASSET_TAG></ASSET_TAGS><CONTROL_LIST>\n`;
    for (let c = 0; c < 60; c++) {
      s += `<CONTROL><CID>${1000 + c}</CID><STATEMENT><![CDATA[Status of the setting number ${c} that a benchmark control checks]]></STATEMENT><CRITICALITY><LABEL>SERIOUS</LABEL><VALUE>3</VALUE></CRITICALITY><TECHNOLOGY><ID>91</ID><NAME><![CDATA[Windows Server 2019]]></NAME></TECHNOLOGY><INSTANCE><![CDATA[os]]></INSTANCE><STATUS>${c % 3 ? 'Passed' : 'Failed'}</STATUS><EVIDENCE><EXPECTED><![CDATA[greater than or equal to 14]]></EXPECTED><ACTUAL><![CDATA[8]]></ACTUAL></EVIDENCE><RATIONALE><![CDATA[A rationale of a realistic length, explaining why the setting matters for the security of the host.]]></RATIONALE><REMEDIATION><![CDATA[Set the value through Group Policy and verify it on the next scan.]]></REMEDIATION></CONTROL>\n`;
    }
    s += '</CONTROL_LIST></HOST>\n';
    bytes += s.length;
    await write(s);
  }
  await write('</HOST_LIST></POLICY></RESULTS>\n</COMPLIANCE_POLICY_REPORT>\n');
  out.end();
  await once(out, 'close');
}

interface Generator {
  benchSpec(targetBytes: number): unknown;
  writeReportFile(spec: never, path: string): Promise<unknown>;
}

/** The report file of about `mb` MB, generated once and reused (keyed by size and generator). */
async function reportFile(mb: number): Promise<string> {
  const dir = path.join(tmpdir(), 'qpc-bench');
  mkdirSync(dir, { recursive: true });
  let sim: Generator | null = null;
  try {
    sim = (await import('@qpc/qualys-sim')) as Generator;
  } catch {
    sim = null; // not in this checkout: the fallback generator below
  }
  const file = path.join(dir, `policy-report-${mb}mb-${sim ? 'sim' : 'fallback'}.xml`);
  const done = `${file}.done`;
  if (existsSync(file) && existsSync(done) && readFileSync(done, 'utf8') === String(statSync(file).size)) {
    console.log(`reusing ${file} (${(statSync(file).size / 1e6).toFixed(0)} MB)`);
    return file;
  }
  console.log(`generating ${file} (${mb} MB, ${sim ? 'simulator generator' : 'fallback generator'}) ...`);
  const t0 = performance.now();
  const tmp = `${file}.tmp`;
  if (sim) await sim.writeReportFile(sim.benchSpec(mb * 1e6) as never, tmp);
  else await fallbackReport(tmp, mb * 1e6);
  renameSync(tmp, file);
  writeFileSync(done, String(statSync(file).size));
  console.log(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return file;
}

function runChild(mode: string, file: string): ChildResult {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', mode, file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`child ${mode} failed (${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as ChildResult;
}

async function main(): Promise<void> {
  const mb = Number(process.env.QPC_BENCH_MB ?? 1000);
  const rounds = Math.max(1, Number(process.env.QPC_BENCH_ROUNDS ?? 3));
  const big = await reportFile(mb);
  const small = await reportFile(100);
  const fileMb = statSync(big).size / 1e6;
  const show = (r: ChildResult) =>
    console.log(
      `  ${r.mode.padEnd(10)} ${(r.bytes / 1e6).toFixed(0)} MB in ${r.seconds.toFixed(1)} s (cpu ${r.cpuSeconds.toFixed(1)} s): ${(r.bytes / 1e6 / r.seconds).toFixed(1)} MB/s, ${r.records || r.tags} ${r.records ? 'records' : 'tags'}, peak RSS ${r.peakRssMb.toFixed(0)} MB`,
    );
  // ceiling and ours alternate, so that both see the same machine load; the ratio is the median of
  // the rounds' ratios, the speeds are each one's best
  const pairs: { ceiling: ChildResult; ours: ChildResult }[] = [];
  for (let i = 0; i < rounds; i++) {
    const ceiling = runChild('ceiling', big);
    show(ceiling);
    const ours = runChild('ours', big);
    show(ours);
    pairs.push({ ceiling, ours });
  }
  const smalls: ChildResult[] = [];
  for (let i = 0; i < rounds; i++) {
    smalls.push(runChild('ours', small));
    show(smalls[i]!);
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const bestOf = (rs: ChildResult[]) => rs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const ours = bestOf(pairs.map((p) => p.ours));
  const ceiling = bestOf(pairs.map((p) => p.ceiling));
  const oursMbs = ours.bytes / 1e6 / ours.seconds;
  const ceilMbs = ceiling.bytes / 1e6 / ceiling.seconds;
  const out = {
    file_mb: Math.round(fileMb),
    ours_mb_s: +oursMbs.toFixed(1),
    ceiling_mb_s: +ceilMbs.toFixed(1),
    ratio: +median(pairs.map((p) => p.ceiling.seconds / p.ours.seconds)).toFixed(3),
    ratio_cpu: +median(pairs.map((p) => p.ceiling.cpuSeconds / p.ours.cpuSeconds)).toFixed(3),
    records_per_s: Math.round(ours.records / ours.seconds),
    peak_rss_mb: Math.round(Math.max(...pairs.map((p) => p.ours.peakRssMb))),
    peak_rss_100mb: Math.round(Math.max(...smalls.map((r) => r.peakRssMb))),
  };
  console.log(`ratio ${out.ratio} (median of ${rounds} alternating rounds; cpu time ratio ${out.ratio_cpu}); goal >= 0.75`);
  console.log(`peak RSS ${out.peak_rss_mb} MB for ${out.file_mb} MB, ${out.peak_rss_100mb} MB for 100 MB (goal <= 150 MB and within 15%: ${(((out.peak_rss_mb - out.peak_rss_100mb) / out.peak_rss_100mb) * 100).toFixed(1)}%)`);
  console.log(JSON.stringify(out));
}

const i = process.argv.indexOf('--child');
if (i !== -1) {
  const r = await child(process.argv[i + 1]!, process.argv[i + 2]!);
  console.log(JSON.stringify(r));
} else {
  await main();
}
