/**
 * Shutdown ends within a bound whatever happens to the process's output and parent: a broken stdout
 * (the supervisor gone) does not hold the exit, a stuck closer is abandoned after the timeout (exit 1),
 * a second signal exits at once, and a process started with an IPC channel shuts down when it closes.
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'shutdown-child.ts');

async function start(t: Test, env: Record<string, string>, stdio: StdioOptions = ['ignore', 'pipe', 'pipe']) {
  const child = spawn(process.execPath, ['--import=tsx', CHILD], { env: { ...process.env, ...env }, stdio });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += String(d)));
  const [line] = await Promise.race([
    once(child.stderr!, 'data'),
    once(child, 'exit').then(() => {
      throw new Error(`child exited before ready: ${err}`);
    }),
  ]);
  t.match(String(line), /ready/);
  return child;
}

/** Exit code (or signal) and milliseconds until the child exits, failing after limitMs. */
async function exitOf(child: ChildProcess, since: number, limitMs: number): Promise<{ code: number | string | null; ms: number }> {
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(timer);
  return { code: signal === 'SIGKILL' ? 'killed after the limit' : code, ms: Date.now() - since };
}

t.test('stdout broken (the supervisor died) while logging: the process still exits', async (t) => {
  const child = await start(t, { QPC_TEST_LINES: '20000' });
  // the read end closes as when the supervising process is killed: every write gets EPIPE
  child.stdout!.destroy();
  const t0 = Date.now();
  child.kill('SIGTERM');
  const { code, ms } = await exitOf(child, t0, 15_000);
  t.equal(code, 0, `exited cleanly in ${ms} ms`);
});

t.test('a closer that never ends: exit 1 after the timeout; a second signal exits at once', async (t) => {
  const stuck = await start(t, { QPC_TEST_CLOSE_MS: '600000', QPC_TEST_TIMEOUT_MS: '1500' });
  stuck.stdout!.resume();
  let t0 = Date.now();
  stuck.kill('SIGTERM');
  const timedOut = await exitOf(stuck, t0, 15_000);
  t.equal(timedOut.code, 1);
  t.ok(timedOut.ms >= 1_400 && timedOut.ms < 5_000, `exited ${timedOut.ms} ms after SIGTERM (timeout 1,500 ms)`);

  const twice = await start(t, { QPC_TEST_CLOSE_MS: '600000', QPC_TEST_TIMEOUT_MS: '60000' });
  twice.stdout!.resume();
  twice.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  t0 = Date.now();
  twice.kill('SIGTERM');
  const second = await exitOf(twice, t0, 15_000);
  t.equal(second.code, 130);
  t.ok(second.ms < 2_000, `exited ${second.ms} ms after the second SIGTERM`);
});

t.test('started with an IPC channel: shuts down when the channel closes', async (t) => {
  const child = await start(t, {}, ['ignore', 'pipe', 'pipe', 'ipc']);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += String(d)));
  const t0 = Date.now();
  child.disconnect();
  const { code, ms } = await exitOf(child, t0, 15_000);
  t.equal(code, 0, `exited in ${ms} ms`);
  t.match(out, /"reason":"parent exited"/);
});

t.test('without an IPC channel nothing watches the parent: the process keeps running', async (t) => {
  const child = await start(t, {});
  child.stdout!.resume();
  await new Promise((r) => setTimeout(r, 1_000));
  t.equal(child.exitCode, null, 'still running');
  child.kill('SIGTERM');
  t.equal((await exitOf(child, Date.now(), 15_000)).code, 0);
});
