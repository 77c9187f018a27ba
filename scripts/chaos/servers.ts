/**
 * The chaos suite's own servers, each a child process on a free loopback port with its state in a temp
 * folder: a FerretDB (SQLite) and a redis-server it may kill and restart at will, never the shared ones.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** FerretDB where `npm run services` builds it: QPC_FERRETDB_BIN, PATH, or the Go bin folder. */
export function ferretBin(): string {
  if (process.env.QPC_FERRETDB_BIN) return process.env.QPC_FERRETDB_BIN;
  const onPath = which('ferretdb');
  if (onPath) return onPath;
  const go = which('go') ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : null);
  if (go) {
    const env = JSON.parse(spawnSync(go, ['env', '-json', 'GOBIN', 'GOPATH'], { encoding: 'utf8' }).stdout) as { GOBIN: string; GOPATH: string };
    const bin = path.join(env.GOBIN || path.join(env.GOPATH.split(path.delimiter)[0]!, 'bin'), 'ferretdb');
    if (existsSync(bin)) return bin;
  }
  throw new Error('chaos: no FerretDB binary (run `npm run services` once to build it, or set QPC_FERRETDB_BIN)');
}

/** A server process restartable on the same port and state folder. */
export class Server {
  private child: ChildProcess | null = null;
  constructor(
    readonly name: string,
    readonly port: number,
    private readonly cmd: string,
    private readonly args: string[],
    private readonly logFile: string,
  ) {}

  async start(): Promise<void> {
    const out = openSync(this.logFile, 'a');
    this.child = spawn(this.cmd, this.args, { stdio: ['ignore', out, out] });
    for (let i = 0; i < 300; i++) {
      if (await accepts(this.port)) return;
      if (this.child.exitCode !== null) break;
      await sleep(100);
    }
    throw new Error(`chaos: ${this.name} did not listen on ${this.port} (see ${this.logFile})`);
  }

  /** SIGKILL (the harsh case: no clean shutdown) or SIGTERM; resolves once the process is gone. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
  }

  async restart(downMs = 0): Promise<void> {
    await this.stop('SIGKILL');
    if (downMs) await sleep(downMs);
    await this.start();
  }
}

export async function startFerret(dir: string): Promise<Server> {
  const port = await freePort();
  const data = path.join(dir, 'ferretdb');
  mkdirSync(data, { recursive: true });
  const s = new Server('ferretdb', port, ferretBin(), [
    '--handler=sqlite', `--sqlite-url=file:${data}/`, `--state-dir=${data}`,
    `--listen-addr=127.0.0.1:${port}`, '--debug-addr=-', '--telemetry=disable', '--log-level=warn',
  ], path.join(dir, 'ferretdb.log'));
  await s.start();
  return s;
}

/** Redis with an fsync'ed append-only file, as BullMQ's Redis should run: a restart keeps the queues. */
export async function startRedis(dir: string): Promise<Server> {
  const bin = which('redis-server');
  if (!bin) throw new Error('chaos: redis-server is not installed (apt-get install redis-server)');
  const port = await freePort();
  const data = path.join(dir, 'redis');
  mkdirSync(data, { recursive: true });
  const s = new Server('redis', port, bin, [
    '--bind', '127.0.0.1', '--port', String(port), '--dir', data, '--save', '', '--appendonly', 'yes',
    '--appendfsync', 'always', '--maxmemory-policy', 'noeviction',
  ], path.join(dir, 'redis.log'));
  await s.start();
  return s;
}
