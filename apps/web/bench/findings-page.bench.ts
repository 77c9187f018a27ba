/**
 * The Host Findings page at BENCH_FINDINGS findings (default 20,000) on the local MongoDB-wire server,
 * timed by the browser itself: the console marks `qpc:findings-rows` when the first rows are on screen
 * and `qpc:findings-facets` when the filter counts are; both are read relative to the page's navigation.
 * Goals: rows within 1.5 s, facet counts within 3 s (medians of BENCH_REPS loads, default 5, after a first
 * load that follows the data change). Prints the figures, then one JSON line; exits 1 when a goal is missed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { allIndexes, ensureIndexes, type RunDoc } from '@qpc/store/db';
import { buildWeb } from '../../../scripts/apps.mjs';
import { ADMIN, startApi } from '../../api/test/helpers.ts';
import { makeFindings, makeHosts, seedInventory } from '../../api/test/fixtures.ts';

const GOAL_ROWS_MS = 1500;
const GOAL_FACETS_MS = 3000;
const REPS = Number(process.env.BENCH_REPS ?? 5);

function benchRun(): RunDoc {
  const at = new Date();
  const none = { startedAt: null, endedAt: null, ms: null };
  return {
    _id: 'bench-run', connectorId: 'bench', syncId: 'bench-sync', trigger: 'on-demand', reportId: 'bench-report', reportTitle: 'PC', reportLaunchedAt: null,
    attempt: 1, network: 'net-a', state: 'succeeded', index: 0, skipped: [], createdAt: at, updatedAt: at, endedAt: at,
    timings: { fetch: none, parse: none, write: none, finalize: none }, counts: { batches: 0 } as RunDoc['counts'], rejected: [],
    qualys: { calls: 0, conflicts409: 0, waitedSec: 0 }, progress: { bytesDownloaded: 0, bytesParsed: 0, batchesWritten: 0 },
    parse: null, file: null, urba: null, review: false, resumes: 0, error: null,
  } as unknown as RunDoc;
}

const teardowns: (() => unknown)[] = [];
const profile = mkdtempSync(path.join(tmpdir(), 'qpc-bench-chromium-'));
try {
  await buildWeb();
  const api = await startApi({ teardown: (fn) => teardowns.push(fn) }, { allowHttp: true });
  const wanted = Number(process.env.BENCH_FINDINGS ?? 20_000);
  await ensureIndexes(api.deps.store.db, allIndexes());
  // fixtures: 2 policies x 3 controls = 6 findings per host
  const hosts = makeHosts(Math.ceil(wanted / 6));
  const findings = makeFindings(hosts).slice(0, wanted);
  let t0 = performance.now();
  await seedInventory(api.deps.store, hosts, findings);
  // findings arrive through runs: the run's last update is what tells the API the inventory changed
  await api.deps.store.col.runs.insertOne(benchRun());
  console.log(`seeded ${hosts.length} hosts, ${findings.length} findings in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // the same two requests straight from Node, one after the other: what the server alone takes
  for (const [label, p] of [['GET /api/findings?limit=50', '/api/findings?limit=50'], ['GET /api/findings/facets?size=100', '/api/findings/facets?size=100']]) {
    t0 = performance.now();
    const r = await api.call('GET', p!, { token: ADMIN });
    if (r.status !== 200) throw new Error(`${p}: ${r.status} ${r.text}`);
    console.log(`server alone: ${label} ${(performance.now() - t0).toFixed(0)} ms`);
  }
  // a run moves again: the browser's first load below is the first after a change of the data
  await api.deps.store.col.runs.updateOne({ _id: 'bench-run' }, { $set: { updatedAt: new Date() } });

  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    baseURL: api.base,
  });
  teardowns.push(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto('/');
  await page.getByLabel('API token').fill(ADMIN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText(/Signed in as/).waitFor();

  // load 0 is the first after the data changed (on FerretDB it builds the API's snapshot); loads 1..REPS
  // are what a user sees while the data stays as it is
  const runs: { rows: number; facets: number }[] = [];
  let cold: { rows: number; facets: number } | null = null;
  for (let i = 0; i <= REPS; i++) {
    t0 = performance.now();
    await page.goto('/findings');
    // a string, not a function: the TypeScript loader would wrap a function in helpers the page lacks
    const marks = await page.waitForFunction(
      `(() => {
        const at = (n) => performance.getEntriesByName(n, 'mark')[0]?.startTime;
        const rows = at('qpc:findings-rows');
        const facets = at('qpc:findings-facets');
        return rows !== undefined && facets !== undefined ? { rows, facets } : null;
      })()`,
      null,
      { timeout: 600_000, polling: 50 },
    );
    const m = (await marks.jsonValue()) as { rows: number; facets: number };
    const rowsShown = await page.getByRole('table', { name: 'Host findings' }).locator('tbody tr').count();
    if (rowsShown === 0) throw new Error('the page showed no rows');
    if (i === 0) cold = m;
    else runs.push(m);
    console.log(`load ${i}${i === 0 ? ' (first after the data changed)' : ''}: first rows ${m.rows.toFixed(0)} ms, facet counts ${m.facets.toFixed(0)} ms (browser marks from navigation)`);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rows = median(runs.map((r) => r.rows));
  const facets = median(runs.map((r) => r.facets));
  console.log(`first load after the data changed: first rows ${cold!.rows.toFixed(0)} ms, facet counts ${cold!.facets.toFixed(0)} ms`);
  console.log(`first rows:   ${rows.toFixed(0)} ms median (goal ${GOAL_ROWS_MS} ms) ${rows <= GOAL_ROWS_MS ? 'MET' : 'MISSED'}`);
  console.log(`facet counts: ${facets.toFixed(0)} ms median (goal ${GOAL_FACETS_MS} ms) ${facets <= GOAL_FACETS_MS ? 'MET' : 'MISSED'}`);
  console.log(
    JSON.stringify({
      findings: findings.length,
      loads: REPS,
      rows_ms: Math.round(rows),
      facets_ms: Math.round(facets),
      first_load_rows_ms: Math.round(cold!.rows),
      first_load_facets_ms: Math.round(cold!.facets),
      rows_goal_met: rows <= GOAL_ROWS_MS,
      facets_goal_met: facets <= GOAL_FACETS_MS,
      server: process.env.MONGO_BACKEND ?? 'the MONGO_URL server',
    }),
  );
  if (!(rows <= GOAL_ROWS_MS && facets <= GOAL_FACETS_MS)) process.exitCode = 1;
} finally {
  for (const fn of teardowns.reverse()) await fn();
  rmSync(profile, { recursive: true, force: true });
}
