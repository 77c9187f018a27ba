/**
 * Report download through the client: MB/s and peak RSS of the client process for a clean download, one
 * resumed with Range after a cut in the middle, and one restarted from byte 0 (replayed, verified) after a
 * cut in the middle. The simulator runs in a child process.
 */
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { createQualysClient } from '../src/index.ts';

const BYTES = Number(process.env.BENCH_BYTES ?? 300e6);
const child = fork(fileURLToPath(new URL('./sim-child.ts', import.meta.url)), [], {
  execArgv: ['--import', 'tsx'],
  env: { ...process.env, BENCH_BYTES: String(BYTES) },
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const [hello] = (await once(child, 'message')) as [{ url: string }];
const setFaults = async (faults: Record<string, unknown> | null) => {
  child.send({ faults });
  await once(child, 'message');
};

const client = createQualysClient({ url: hello.url, username: 'bench', password: 'bench', allowHttp: true, limits: { backoffBaseMs: 50 } });

const auth = `Basic ${Buffer.from('bench:bench').toString('base64')}`;
/** the same download without the client: plain undici and SHA-256, for the client's own overhead */
async function raw() {
  const res = await request(`${hello.url}/api/2.0/fo/report/?action=fetch&id=9001`, { headers: { authorization: auth, 'x-requested-with': 'bench' } });
  return { body: res.body, progress: { resumes: 0, restarts: 0 } };
}

async function run(label: string, open: () => Promise<{ body: AsyncIterable<unknown>; progress: { resumes: number; restarts: number } }> = () => client.fetchReport('9001')) {
  globalThis.gc?.();
  const baseRss = process.memoryUsage().rss;
  let peak = baseRss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
  const t0 = process.hrtime.bigint();
  const d = await open();
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of d.body) {
    bytes += (c as Buffer).length;
    h.update(c as Buffer);
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(sampler);
  const r = { label, bytes, seconds: +s.toFixed(2), mbPerSec: +(bytes / 1e6 / s).toFixed(1), peakRssMb: +(peak / 1e6).toFixed(1), baseRssMb: +(baseRss / 1e6).toFixed(1), sha256: h.digest('hex'), resumes: d.progress.resumes, restarts: d.progress.restarts };
  console.log(`${label.padEnd(10)} ${(bytes / 1e6).toFixed(1)} MB in ${r.seconds} s = ${r.mbPerSec} MB/s, RSS ${r.baseRssMb} -> peak ${r.peakRssMb} MB, resumes ${r.resumes}, restarts ${r.restarts}`);
  return r;
}

await run('warm-up', raw); // the simulator computes the length on its first fetch
const plain = await run('raw undici', raw);
const clean = await run('clean');
await setFaults({ resetAtByte: Math.floor(clean.bytes / 2) });
const resumed = await run('resumed');
await setFaults({ resetAtByte: Math.floor(clean.bytes / 2), range: false });
const restarted = await run('restarted');
await setFaults(null);
const identical = resumed.sha256 === clean.sha256 && restarted.sha256 === clean.sha256 && plain.sha256 === clean.sha256;
console.log(`identical bodies: ${identical}`);
await client.close();
child.disconnect();
await once(child, 'exit');
console.log(
  JSON.stringify({
    bench: 'download',
    bytes: clean.bytes,
    rawUndiciMBps: plain.mbPerSec,
    cleanMBps: clean.mbPerSec,
    resumedMBps: resumed.mbPerSec,
    restartedMBps: restarted.mbPerSec,
    peakRssMb: Math.max(clean.peakRssMb, resumed.peakRssMb, restarted.peakRssMb),
    identical,
  }),
);
if (!identical) process.exitCode = 1;
