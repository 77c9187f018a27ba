#!/usr/bin/env node
// `npm start`: every app in the foreground (api, scheduler, one of each worker), configured from the
// environment; each line of output is prefixed with its app. Ctrl-C (or SIGTERM) stops them all cleanly;
// if one app exits on its own, the others are stopped too and the exit code says so.
// Each app runs from its bundle (scripts/apps.mjs), rebuilt from the source first.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { APPS, ROOT, appArgs, buildApps, buildWeb } from './apps.mjs';

const apps = APPS;
await buildApps(apps);
// the console the API serves at /
await buildWeb();
const width = Math.max(...apps.map((a) => a.length));
const children = new Map();
let stopping = false;
let exitCode = 0;

function stopAll(signal = 'SIGTERM') {
  if (stopping) return;
  stopping = true;
  for (const child of children.values()) child.kill(signal);
  // the apps have their own shutdown timeout; this is the last resort
  setTimeout(() => {
    for (const child of children.values()) child.kill('SIGKILL');
  }, 60_000).unref();
}

for (const app of apps) {
  const child = spawn(process.execPath, appArgs(app), {
    cwd: ROOT,
    env: process.env,
    // the IPC channel closes when this script dies, even SIGKILLed: each app then shuts itself down
    // (worker-kit's onShutdown) instead of living on, orphaned in its own process group
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // own process group: a terminal's Ctrl-C reaches only this script, which sends each app one SIGTERM
    // (a second signal would make an app skip its graceful shutdown)
    detached: true,
  });
  children.set(app, child);
  const tag = `${app.padEnd(width)} |`;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${tag} ${line}\n`));
  }
  child.on('exit', (code, signal) => {
    children.delete(app);
    process.stdout.write(`${tag} exited (${signal ?? code})\n`);
    if (!stopping) {
      exitCode = 1;
      stopAll();
    } else if (code && code !== 0) {
      exitCode = 1;
    }
    if (children.size === 0) process.exit(exitCode);
  });
}
console.log(`start: ${apps.join(', ')} (Ctrl-C stops them all)`);
let signals = 0;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    signals += 1;
    stopAll(signals > 1 ? 'SIGKILL' : 'SIGTERM');
  });
}
