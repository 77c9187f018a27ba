#!/usr/bin/env node
// `npm run bench [-- name ...]`: runs every <workspace>/bench/<name>.bench.ts (or only those named),
// one after another, each in its own process. Each benchmark prints its figures and ends with one JSON
// line; this runner collects those lines and prints them together at the end.
import { readdirSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const benches = [];
for (const group of ['packages', 'apps']) {
  for (const ws of readdirSync(path.join(root, group))) {
    const dir = path.join(root, group, ws, 'bench');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.bench.ts')) continue;
      const name = f.slice(0, -'.bench.ts'.length);
      if (wanted.length === 0 || wanted.includes(name)) benches.push({ name, file: path.join(dir, f), cwd: path.join(root, group, ws) });
    }
  }
}
if (benches.length === 0) {
  console.error(wanted.length ? `no benchmark named ${wanted.join(', ')}` : 'no benchmarks found');
  process.exit(2);
}
const results = [];
let failed = 0;
for (const b of benches) {
  console.log(`\n=== bench ${b.name} (${path.relative(root, b.file)})`);
  // the figures are shown as they come (a long bench is not silent until its end); the last line is kept
  const child = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', b.file], { cwd: b.cwd, stdio: ['ignore', 'pipe', 'inherit'] });
  let tail = '';
  child.stdout.on('data', (d) => {
    process.stdout.write(d);
    tail = (tail + d.toString('utf8')).slice(-65536);
  });
  const status = await new Promise((resolve) => child.on('close', (code) => resolve(code)));
  const last = tail.trim().split('\n').pop() ?? '';
  if (status !== 0) failed++;
  let result = null;
  try {
    result = last.startsWith('{') ? JSON.parse(last) : null;
  } catch {
    result = null;
  }
  results.push({ bench: b.name, status, result });
}
console.log('\n=== summary');
for (const r of results) console.log(JSON.stringify(r));
process.exit(failed ? 1 : 0);
