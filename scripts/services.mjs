#!/usr/bin/env node
// `npm run services [-- up|down|status]`: makes sure Redis and a MongoDB-wire server are up, idempotently,
// and prints REDIS_URL=..., MONGO_URL=... and MONGO_BACKEND=... lines (other scripts parse them).
//
// Redis: the one at REDIS_URL if it answers (refused unless maxmemory-policy is noeviction), else Debian's
// redis-server started on loopback. MongoDB: the one at MONGO_URL if it answers, else a `mongod` on PATH,
// else FerretDB v1.24.2 (built once with Go, kept in the Go bin folder) on PostgreSQL when one answers at
// QPC_PG_URL, else on SQLite (QPC_FERRETDB_BACKEND=sqlite|postgresql chooses). MONGO_BACKEND=... tells which.
// `down` stops only what this script started (it records pids under .qpc/services/).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync, openSync, cpSync, chmodSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stateDir = path.join(root, '.qpc', 'services');
const FERRETDB_VERSION = 'v1.24.2';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const MONGO_URL = process.env.MONGO_URL || 'mongodb://127.0.0.1:27017/qpc';

const log = (msg) => process.stderr.write(`services: ${msg}\n`);
const fail = (msg) => {
  process.stderr.write(`services: ${msg}\n`);
  process.exit(1);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function pidFile(name) {
  return path.join(stateDir, `${name}.pid`);
}
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
function startedPid(name) {
  const f = pidFile(name);
  if (!existsSync(f)) return null;
  const pid = Number(readFileSync(f, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : null;
}

// ---- Redis ---------------------------------------------------------------------------------------

/** Send RESP commands over a plain socket; resolves with the raw reply text, or null if unreachable. */
function redisCommands(url, commands, timeoutMs = 1500) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = net.connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 6379) });
    let data = '';
    const done = (v) => {
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    sock.on('error', () => {
      clearTimeout(timer);
      done(null);
    });
    sock.on('connect', () => {
      const all = [];
      if (u.password) all.push(u.username ? ['AUTH', decodeURIComponent(u.username), decodeURIComponent(u.password)] : ['AUTH', decodeURIComponent(u.password)]);
      all.push(...commands);
      for (const c of all) sock.write(`*${c.length}\r\n${c.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
    sock.on('data', (b) => {
      data += b.toString('utf8');
      if (data.includes('+PONG') && (commands.length === 1 || /maxmemory-policy\r\n\$\d+\r\n[^\r]+\r\n/.test(data) || data.includes('-ERR') || data.includes('-NOPERM'))) {
        clearTimeout(timer);
        done(data);
      } else if (data.startsWith('-')) {
        clearTimeout(timer);
        done(data);
      }
    });
  });
}

async function redisStatus(url) {
  const reply = await redisCommands(url, [['PING'], ['CONFIG', 'GET', 'maxmemory-policy']]);
  if (reply === null) return { up: false };
  if (!reply.includes('+PONG')) return { up: true, error: reply.split('\r\n')[0] };
  const m = /maxmemory-policy\r\n\$\d+\r\n([^\r]+)\r\n/.exec(reply);
  return { up: true, policy: m ? m[1] : null };
}

async function ensureRedis() {
  let st = await redisStatus(REDIS_URL);
  if (!st.up) {
    const u = new URL(REDIS_URL);
    if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(u.hostname)) fail(`Redis at ${safeUrl(REDIS_URL)} does not answer, and it is not a local address this script could start`);
    const bin = which('redis-server');
    if (!bin) fail('Redis does not answer and redis-server is not installed (apt-get install redis-server)');
    const dir = path.join(stateDir, 'redis');
    mkdirSync(dir, { recursive: true });
    const port = u.port || '6379';
    log(`starting redis-server on 127.0.0.1:${port}`);
    execFileSync(bin, [
      '--daemonize', 'yes', '--bind', '127.0.0.1', '--port', port, '--dir', dir,
      '--pidfile', pidFile(`redis-${port}`), '--logfile', path.join(dir, 'redis.log'),
      '--maxmemory-policy', 'noeviction', '--save', '', '--appendonly', 'no',
    ]);
    for (let i = 0; i < 50 && !(st = await redisStatus(REDIS_URL)).up; i++) await sleep(100);
    if (!st.up) fail(`redis-server did not answer on port ${port}; see ${path.join(dir, 'redis.log')}`);
  }
  if (st.error) fail(`Redis at ${safeUrl(REDIS_URL)} answered: ${st.error}`);
  if (st.policy && st.policy !== 'noeviction') {
    fail(
      `Redis at ${safeUrl(REDIS_URL)} has maxmemory-policy "${st.policy}"; BullMQ needs "noeviction" or it can lose jobs.\n` +
        `  fix: redis-cli -u '${safeUrl(REDIS_URL)}' CONFIG SET maxmemory-policy noeviction   (and set it in redis.conf)`,
    );
  }
}

// ---- MongoDB-wire --------------------------------------------------------------------------------

async function mongoPing(url) {
  let MongoClient;
  try {
    ({ MongoClient } = await import('mongodb'));
  } catch {
    // before `npm install`: a TCP connect is the best we can do
    const u = new URL(url.replace(/^mongodb(\+srv)?:/, 'http:'));
    return new Promise((resolve) => {
      const s = net.connect({ host: u.hostname, port: Number(u.port || 27017) });
      s.on('connect', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
  }
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 1500, connectTimeoutMS: 1500 });
  try {
    await client.db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => {});
  }
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function goBin() {
  const go = which('go') || (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : null);
  if (!go) return { go: null, bin: null };
  const env = JSON.parse(execFileSync(go, ['env', '-json', 'GOBIN', 'GOPATH'], { encoding: 'utf8' }));
  return { go, bin: env.GOBIN || path.join(env.GOPATH.split(path.delimiter)[0], 'bin') };
}

function ferretWorks(bin) {
  if (!existsSync(bin)) return false;
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 && r.stdout.includes(`version: ${FERRETDB_VERSION}`);
}

/**
 * FerretDB's module, built as `go install .../cmd/ferretdb@v1.24.2` would, except that a plain `go install`
 * binary panics at start (its build/version/version.txt is generated by FerretDB's own task runner and is
 * absent from the module). So: download the module, copy it, write version.txt, build into the Go bin folder.
 */
function buildFerret() {
  const { go, bin } = goBin();
  if (!go) fail('no MongoDB-wire server answers, no mongod on PATH, and Go is not installed to build FerretDB');
  const target = path.join(bin, 'ferretdb');
  if (ferretWorks(target)) return target;
  log(`building FerretDB ${FERRETDB_VERSION} with Go (first time only; about 2 minutes)`);
  const started = Date.now();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferretdb-build-'));
  try {
    const dl = JSON.parse(
      execFileSync(go, ['mod', 'download', '-json', `github.com/FerretDB/FerretDB@${FERRETDB_VERSION}`], {
        cwd: tmp,
        encoding: 'utf8',
        env: { ...process.env, GOFLAGS: '-mod=mod' },
      }),
    );
    const src = path.join(tmp, 'src');
    cpSync(dl.Dir, src, { recursive: true });
    chmodSync(src, 0o755);
    spawnSync('chmod', ['-R', 'u+w', src]);
    writeFileSync(path.join(src, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}\n`);
    mkdirSync(bin, { recursive: true });
    const r = spawnSync(go, ['build', '-o', target, './cmd/ferretdb'], { cwd: src, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) fail(`building FerretDB failed (go build exit ${r.status})`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (!ferretWorks(target)) fail(`built ${target} but it does not report ${FERRETDB_VERSION}`);
  log(`FerretDB built in ${Math.round((Date.now() - started) / 1000)} s: ${target}`);
  return target;
}

/**
 * FerretDB's backend: PostgreSQL when a server answers at QPC_PG_URL (default
 * postgres://postgres@127.0.0.1:5432; the database is its path, else qpc_ferretdb_<port>, created if
 * missing), else SQLite. QPC_FERRETDB_BACKEND=sqlite|postgresql overrides (postgresql then fails loudly if
 * PostgreSQL cannot be used). Why PostgreSQL first: FerretDB's SQLite backend has one writer for the whole
 * server and slows as its file grows (README, Performance: 1.1-1.5x the pipeline's speed at 20,000 findings,
 * 5-13x on updates of existing documents). FerretDB's PostgreSQL pool holds 50 connections (100 on SQLite):
 * the writers' bulk updates go as updateMany for that reason (packages/store keyedUpdate). SQLite's own weak
 * spot: dropping a database while requests on it are in flight can crash the server (SIGBUS in the WAL
 * index mapping); test teardowns stop their apps first. Returns the URL for FerretDB, or null for SQLite.
 */
async function ferretPostgres(port) {
  const mode = process.env.QPC_FERRETDB_BACKEND || 'auto';
  if (!['auto', 'sqlite', 'postgresql'].includes(mode)) fail(`QPC_FERRETDB_BACKEND must be sqlite or postgresql, not "${mode}"`);
  if (mode === 'sqlite') return null;
  const given = new URL(process.env.QPC_PG_URL || 'postgres://postgres@127.0.0.1:5432');
  const db = decodeURIComponent(given.pathname.slice(1)) || `qpc_ferretdb_${port}`;
  // auto: a missing or unusable PostgreSQL falls back to SQLite with the reason on stderr
  const unusable = (why) => {
    if (mode === 'postgresql') fail(`QPC_FERRETDB_BACKEND=postgresql but ${why}`);
    log(`PostgreSQL not used (${why}); FerretDB uses SQLite`);
    return null;
  };
  const reachable = await new Promise((resolve) => {
    const s = net.connect({ host: given.hostname.replace(/^\[|\]$/g, ''), port: Number(given.port || 5432) });
    s.setTimeout(1500, () => (s.destroy(), resolve(false)));
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
  if (!reachable) return unusable(`no PostgreSQL answers at ${safeUrl(given.toString())}`);
  const psql = which('psql');
  if (!psql) return unusable('psql is not installed (apt-get install postgresql-client) to create its database');
  const admin = new URL(given);
  admin.pathname = '/postgres';
  const env = { ...process.env, PGCONNECT_TIMEOUT: '3' };
  const exists = spawnSync(psql, [admin.toString(), '-tAc', `SELECT 1 FROM pg_database WHERE datname = '${db.replace(/'/g, "''")}'`], { encoding: 'utf8', env });
  if (exists.status !== 0) return unusable(`PostgreSQL at ${safeUrl(admin.toString())} refused a query: ${exists.stderr.trim()}`);
  if (exists.stdout.trim() !== '1') {
    const created = spawnSync(psql, [admin.toString(), '-c', `CREATE DATABASE "${db.replace(/"/g, '""')}"`], { encoding: 'utf8', env });
    if (created.status !== 0) return unusable(`cannot create database ${db}: ${created.stderr.trim()}`);
  }
  const url = new URL(given);
  url.pathname = `/${encodeURIComponent(db)}`;
  return url.toString();
}

/** What serves MONGO_URL, for the MONGO_BACKEND= line: the backend this script recorded, else what the server says it is. */
async function mongoBackend(url, port) {
  const recorded = path.join(stateDir, `mongo-${port}.backend`);
  if (startedPid(`mongo-${port}`) && existsSync(recorded)) return readFileSync(recorded, 'utf8').trim();
  try {
    const { MongoClient } = await import('mongodb');
    const client = new MongoClient(url, { serverSelectionTimeoutMS: 1500, connectTimeoutMS: 1500 });
    try {
      const info = await client.db('admin').command({ buildInfo: 1 });
      return info.ferretdbVersion ? 'ferretdb' : 'mongodb';
    } finally {
      await client.close().catch(() => {});
    }
  } catch {
    return 'unknown';
  }
}

async function ensureMongo() {
  if (await mongoPing(MONGO_URL)) return;
  const u = new URL(MONGO_URL.replace(/^mongodb:/, 'http:'));
  if (!['127.0.0.1', 'localhost'].includes(u.hostname)) fail(`MongoDB at ${safeUrl(MONGO_URL)} does not answer, and it is not a local address this script could start`);
  const port = u.port || '27017';
  let cmd;
  let args;
  let name;
  let backend;
  // one data folder and one log per port: two servers never share SQLite files
  const dataDir = path.join(stateDir, `mongo-data-${port}`);
  mkdirSync(dataDir, { recursive: true });
  const mongod = which('mongod');
  if (mongod) {
    name = 'mongod';
    backend = 'mongodb';
    cmd = mongod;
    args = ['--dbpath', dataDir, '--bind_ip', '127.0.0.1', '--port', port];
  } else {
    name = 'ferretdb';
    cmd = buildFerret();
    const pg = await ferretPostgres(port);
    args = [
      ...(pg
        ? ['--handler=postgresql', `--postgresql-url=${pg}`]
        : ['--handler=sqlite', `--sqlite-url=file:${dataDir}/`]),
      `--state-dir=${dataDir}`,
      `--listen-addr=127.0.0.1:${port}`, '--debug-addr=-', '--telemetry=disable', '--log-level=warn',
    ];
    backend = pg ? 'ferretdb-postgresql' : 'ferretdb-sqlite';
    log(`FerretDB backend: ${pg ? `postgresql (${safeUrl(pg)})` : 'sqlite'}`);
  }
  log(`starting ${name} on 127.0.0.1:${port}`);
  const out = openSync(path.join(stateDir, `${name}-${port}.log`), 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  writeFileSync(pidFile(`mongo-${port}`), String(child.pid));
  writeFileSync(path.join(stateDir, `mongo-${port}.backend`), backend);
  for (let i = 0; i < 100; i++) {
    if (await mongoPing(MONGO_URL)) return;
    if (!alive(child.pid)) break;
    await sleep(200);
  }
  fail(`${name} did not answer on port ${port}; see ${path.join(stateDir, `${name}-${port}.log`)}`);
}

function safeUrl(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'redacted';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}

async function down() {
  const files = readdirSync(stateDir).filter((f) => /^(mongo|redis)-\d+\.pid$/.test(f));
  for (const f of files) {
    const name = f.slice(0, -4);
    const pid = startedPid(name);
    if (pid) {
      log(`stopping ${name} (pid ${pid})`);
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    rmSync(pidFile(name), { force: true });
    rmSync(path.join(stateDir, `${name}.backend`), { force: true });
  }
}

const action = process.argv[2] || 'up';
mkdirSync(stateDir, { recursive: true });
if (action === 'down') {
  await down();
} else if (action === 'up' || action === 'status') {
  if (action === 'up') {
    await ensureRedis();
    await ensureMongo();
  } else {
    const r = await redisStatus(REDIS_URL);
    const m = await mongoPing(MONGO_URL);
    log(`redis ${r.up ? 'up' : 'down'}${r.policy ? ` (maxmemory-policy ${r.policy})` : ''}, mongo ${m ? 'up' : 'down'}`);
    if (!r.up || !m) process.exitCode = 1;
  }
  console.log(`REDIS_URL=${REDIS_URL}`);
  console.log(`MONGO_URL=${MONGO_URL}`);
  console.log(`MONGO_BACKEND=${await mongoBackend(MONGO_URL, new URL(MONGO_URL.replace(/^mongodb:/, 'http:')).port || '27017')}`);
} else {
  fail(`unknown action "${action}" (up, down, status)`);
}
