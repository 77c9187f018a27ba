// The long-running apps as they run outside tests: each bundled by esbuild into apps/<app>/dist/main.mjs
// (the workspace TypeScript inlined, every npm package left as an import) and started with plain Node.
// A bundle starts ~30 MB smaller than the same app through tsx (worker-upsert idle: ~90 vs ~120 MB RSS),
// which is what keeps the workers under their memory budget. `npm start`, the demo, the pipeline bench
// and the Docker image all go through here; tests keep running the TypeScript source through tsx.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The services, in start order (the CLI, simulator included, stays on tsx: it loads its commands on demand). */
export const APPS = ['api', 'scheduler', 'worker-fetch', 'worker-parse', 'worker-upsert'];

// V8's young generation capped at 4 MB semi-spaces (default 16 MB): a write worker peaked at ~210 MB RSS
// with the default and ~160-175 MB with this, for ~4% of its speed (pipeline bench, 20,000 findings).
// The old generation capped at 192 MB (default ~4 GB here): V8 then collects before growing the heap far
// past its live set; in the 100,000-finding bench the peaks fell from 137 / 199 / 188 MB (fetch / parse /
// upsert) to 132 / 122 / 113 MB at the same speed. The parse worker keeps ~800 bytes per host and policy
// for the whole report; a report with far more than 100,000 of them needs a larger cap (a later
// --max-old-space-size wins: add it before the bundle in the service's command).
// Each bundle has its source map beside it; NODE_OPTIONS=--enable-source-maps makes stack traces name the
// TypeScript file and line, for ~6 MB more per process (not on by default: the workers' budget is 200 MB).
export const NODE_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=192'];

/** The bundle of one app, relative to the repository root. */
export function bundlePath(app) {
  return path.join('apps', app, 'dist', 'main.mjs');
}

/** node's arguments to run one app's bundle. */
export function appArgs(app) {
  return [...NODE_FLAGS, bundlePath(app)];
}

/** Bundles the apps (all by default) in one esbuild pass; a few hundred milliseconds, so callers always rebuild. */
export async function buildApps(apps = APPS) {
  const unknown = apps.filter((a) => !APPS.includes(a));
  if (unknown.length) throw new Error(`build: no such app: ${unknown.join(', ')}`);
  const { build } = await import('esbuild');
  const entryPoints = Object.fromEntries(apps.map((a) => [path.join('apps', a, 'dist', 'main'), path.join('apps', a, 'src', 'main.ts')]));
  await build({
    absWorkingDir: ROOT,
    entryPoints,
    outdir: '.',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
    plugins: [
      {
        // npm packages stay imports resolved from node_modules at run time; only @qpc/* is inlined
        name: 'external-packages',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@qpc/') ? undefined : { path: args.path, external: true }));
        },
      },
    ],
  });
  return apps.map(bundlePath);
}

/** The console (apps/web): built by Vite into apps/web/dist, which the API serves at `/`. */
export const WEB_DIST = path.join(ROOT, 'apps', 'web', 'dist');

/** Builds the console with Vite (a few seconds); `npm run build`, `npm start` and the demo call it. */
export async function buildWeb({ outDir = WEB_DIST } = {}) {
  const { build } = await import('vite');
  await build({ root: path.join(ROOT, 'apps', 'web'), logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  return outDir;
}

/**
 * The JavaScript the first page loads (index.html's module scripts and their modulepreloads), raw and
 * gzipped: the console's budget is 350 KB gzipped.
 */
export function webFirstPageSize(distDir = WEB_DIST) {
  const html = readFileSync(path.join(distDir, 'index.html'), 'utf8');
  const files = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="([^"]+\.js)"/g)].map((m) => m[1]);
  let raw = 0;
  let gzip = 0;
  for (const f of new Set(files)) {
    const body = readFileSync(path.join(distDir, f.replace(/^\//, '')));
    raw += body.length;
    gzip += gzipSync(body, { level: 9 }).length;
  }
  return { files: [...new Set(files)], raw, gzip };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const apps = process.argv.slice(2);
  const services = apps.filter((a) => a !== 'web');
  const t0 = performance.now();
  const out = apps.length && !services.length ? [] : await buildApps(services.length ? services : APPS);
  console.log(`build: ${out.join(', ')} (${Math.round(performance.now() - t0)} ms)`);
  if (!apps.length || apps.includes('web')) {
    const t1 = performance.now();
    await buildWeb();
    const size = webFirstPageSize();
    console.log(
      `build: apps/web/dist (${Math.round(performance.now() - t1)} ms); first page JavaScript ${(size.gzip / 1024).toFixed(1)} KB gzipped (budget 350 KB), ${(size.raw / 1024).toFixed(1)} KB raw`,
    );
  }
}
