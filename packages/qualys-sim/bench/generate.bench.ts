/**
 * `npm run bench -- generate`: generate a 1 GB Policy Report (by-host, canonical form) into a null sink
 * through the Readable that the simulator serves, and report MB/s and peak RSS (sampled every 50 ms).
 * Goals: >= 150 MB/s, peak RSS < 120 MB. QPC_BENCH_MB changes the size, QPC_BENCH_LAYOUT=by-control the layout.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
// the generator modules only: the server's imports (zod, the scenario schema) are not part of what is measured
import { generateReport } from '../src/generate.ts';
import { benchSpec } from '../src/report-file.ts';

const GOAL_MB_S = 150;
const GOAL_RSS_MB = 120;
const targetMb = Number(process.env.QPC_BENCH_MB ?? 1024);
const MB = 1024 * 1024;

const layout = process.env.QPC_BENCH_LAYOUT === 'by-control' ? 'by-control' : 'by-host';
const spec = benchSpec(targetMb * MB, { layout });
const baseline = process.memoryUsage().rss;
let peak = baseline;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 50);

let bytes = 0;
const sink = new Writable({
  highWaterMark: 1 << 20,
  write(chunk: Buffer, _enc, cb) {
    bytes += chunk.length;
    cb();
  },
});
const t0 = performance.now();
await pipeline(generateReport(spec), sink);
const secs = (performance.now() - t0) / 1000;
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);

const fileMb = bytes / MB;
const mbS = fileMb / secs;
const peakMb = peak / MB;
console.log(`report (${layout}): ${spec.size.hosts} hosts x ${spec.size.controls} controls (up to ${spec.size.instancesPerControl} instances), ${fileMb.toFixed(1)} MB`);
console.log(`generate: ${secs.toFixed(2)} s, ${mbS.toFixed(1)} MB/s (goal >= ${GOAL_MB_S}) ${mbS >= GOAL_MB_S ? 'OK' : 'BELOW GOAL'}`);
console.log(`peak RSS: ${peakMb.toFixed(1)} MB, at start ${(baseline / MB).toFixed(1)} MB (goal < ${GOAL_RSS_MB}) ${peakMb < GOAL_RSS_MB ? 'OK' : 'ABOVE GOAL'}`);
console.log(JSON.stringify({ file_mb: Number(fileMb.toFixed(1)), mb_s: Number(mbS.toFixed(1)), peak_rss_mb: Number(peakMb.toFixed(1)), goal_mb_s: GOAL_MB_S, goal_rss_mb: GOAL_RSS_MB }));
