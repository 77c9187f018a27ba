/**
 * The console's journey in a real browser against the real stack (API serving the built console,
 * workers, Qualys simulator, Redis, FerretDB): sign in; configure a connector from the catalogue;
 * Test Credentials wrong then right; schedule preview; Save; Sync and watch History; Hosts; Host
 * Findings filters against the API's facets; a finding's detail; a changed report; edit; delete.
 * axe-core on every page; the connector password (a canary) never reaches the browser. Viewers and
 * cross-site posts: access.test.ts.
 */
import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { ScenarioReport } from '@qpc/qualys-sim';
import { waitFor } from '@qpc/testing';
import { seriousViolations } from './a11y.ts';
import { ADMIN, openBrowser, startWebStack } from './stack.ts';

const CANARY = 'Canary-web-5e2d9a-Pa55';
const WRONG = 'Wrong-web-0b7c44-Pa55';
const USER = 'pc-web-user';
const TITLE = 'QPC-WEB Servers';
const NAME = 'Web journey connector';
const SHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/screenshots');

/** a generation date `hours` ago (the reports' headers carry it; the console's freshness counts from it) */
const generated = (hours: number) => new Date(Date.now() - hours * 3600_000).toISOString();
const stack = await startWebStack(t, {
  scenario: {
    user: { login: USER, password: CANARY },
    reports: [
      { id: '7101', title: TITLE, launched: '-2d', generatedAt: generated(48), seed: 7101, size: { hosts: 60, controls: 6, instancesPerControl: 1, policies: 1 } },
      {
        id: '7102',
        title: TITLE,
        launched: '-1d',
        generatedAt: generated(24),
        derivedFrom: '7101',
        mutations: [
          { type: 'flip', percent: 25 },
          { type: 'dropControls', cids: ['1001', '1002'], firstHosts: 20 },
        ],
      },
      { id: '7103', title: TITLE, launched: '-12h', generatedAt: generated(12), derivedFrom: '7102', mutations: [{ type: 'flip', percent: 5 }] },
    ],
  },
});
// the later reports appear on the "server" later, as newly finished reports would
const held = new Map<string, ScenarioReport>();
for (const id of ['7102', '7103']) held.set(id, stack.sim.scenario.reports.splice(stack.sim.scenario.reports.findIndex((r) => r.id === id), 1)[0] as ScenarioReport);

const b = await openBrowser(t, stack.base);
const { page } = b;
const a11y = new Map<string, string[]>();
async function audit(name: string) {
  a11y.set(name, await seriousViolations(page));
}
const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

async function signIn(p: Page, token: string) {
  await p.goto('/');
  await p.getByLabel('API token').fill(token);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByText(/Signed in as/).waitFor();
}

let connectorId = '';

t.test('sign in: a wrong token is refused in the API words, the right one opens the console', async (t) => {
  await page.goto('/');
  await audit('sign-in');
  await page.getByLabel('API token').fill('not-a-token-at-all');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await t.match(await page.getByRole('alert').innerText(), /UNAUTHORIZED: invalid token/);
  await signIn(page, ADMIN);
  t.match(await page.getByText(/Signed in as/).innerText(), /admin/);
  const stored = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie }));
  t.notMatch(stored, ADMIN, 'the token is kept nowhere in the browser');
  t.notMatch(stored, /qpc_session/, 'the session cookie is HttpOnly');
});

t.test('Integrations: the empty state, the card found by search, then configure a connector', async (t) => {
  await page.getByRole('link', { name: 'Integrations', exact: true }).click();
  await page.getByText('No connectors yet').waitFor();
  await audit('integrations-empty');
  const search = page.getByLabel('Search integrations');
  await search.fill('Zscaler');
  t.equal(await page.getByRole('heading', { name: 'Qualys Policy Compliance' }).count(), 0, 'another search hides the card');
  await search.fill('Policy Compliance');
  await page.getByRole('heading', { name: 'Qualys Policy Compliance' }).waitFor();
  await page.getByRole('button', { name: 'Configuration: Qualys Policy Compliance' }).click();
  await page.getByRole('heading', { name: 'Configure Qualys Policy Compliance' }).waitFor();

  // a first Save with bad fields: each error in the API's words next to its field
  await page.getByLabel('URL').fill('not a url');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#e-name').waitFor();
  t.match(await page.locator('#e-name').innerText(), /Name is required/);
  t.match(await page.locator('#e-url').innerText(), /URL not a valid URL/);

  await page.getByLabel('Name', { exact: true }).fill(NAME);
  await page.getByLabel('URL').fill(stack.sim.url);
  await page.getByLabel('User Name').fill(USER);
  await page.getByLabel('Password').fill(WRONG);
  await page.getByLabel('Network').fill('web-net');
  await page.getByLabel('Qualys Report Title Prefix').fill('QPC-WEB');

  await page.getByRole('button', { name: 'Test Credentials' }).click();
  const failure = page.getByTestId('test-result').getByRole('alert');
  await failure.waitFor();
  const text = await failure.innerText();
  t.match(text, /Login failed/, 'says which check failed');
  t.match(text, /user name and the password/, 'and what to do');
  t.match(await page.getByTestId('test-result').innerText(), /Policy Compliance access: not run/);

  t.equal(await page.locator('#e-name').count(), 0, 'a field error goes once its field is edited');

  // the right password with a prefix no report has: a warning with the advice to create or schedule the report
  await page.getByLabel('Password').fill(CANARY);
  await page.getByLabel('Qualys Report Title Prefix').fill('QPC-NONE');
  await page.getByRole('button', { name: 'Test Credentials' }).click();
  await page.getByText('Warning: no matching report.').waitFor();
  t.match(await page.getByTestId('test-result').innerText(), /“QPC-NONE”. Create or schedule a Policy Compliance report in Qualys whose title starts with this prefix/);
  await page.getByLabel('Qualys Report Title Prefix').fill('QPC-WEB');
  await page.getByRole('button', { name: 'Test Credentials' }).click();
  await page.getByText('Every check passed.').waitFor();
  const result = await page.getByTestId('test-result').innerText();
  t.match(result, /Login: passed/);
  t.match(result, /Policy Compliance access: passed/);
  t.match(result, /Matching reports: passed — 1 matching report, newest “QPC-WEB Servers” of \d{4}-\d\d-\d\d/);
  t.match(result, /Took \d/);

  // an impossible cron: the scheduler's parser answers, in its words
  await page.getByLabel('Runs').selectOption('cron');
  await page.getByLabel(/Cron expression/).fill('0 25 * * *');
  await page.getByRole('alert').filter({ hasText: 'SCHEDULE_INVALID' }).waitFor();
  await page.getByLabel('Runs').selectOption('daily');
  await page.getByLabel('Time (24h)').fill('02:30');
  await page.getByTestId('schedule-preview').waitFor();
  await waitFor(async () => /02:30/.test(await page.getByTestId('schedule-preview').innerText()), 10_000);
  const preview = await page.getByTestId('schedule-preview').locator('li').allInnerTexts();
  t.equal(preview.length, 3, 'three next run times');
  for (const p of preview) t.match(p, /02:30:00 GMT/);
  await page.getByLabel(/Enable auto URBA/).check();
  await shot('connector-form');
  await audit('connector-form');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('heading', { name: 'Currently Configured Integrations' }).waitFor();
  await page.getByRole('rowheader', { name: NAME }).waitFor();
  const list = (await stack.call('GET', '/api/connectors')).json as { items: { id: string; name: string; autoUrba: boolean; schedule: unknown }[] };
  const saved = list.items.find((c) => c.name === NAME);
  t.ok(saved, 'saved through the API');
  t.equal(saved?.autoUrba, true);
  t.match(saved?.schedule, { kind: 'daily', time: '02:30', timezone: 'UTC' });
  connectorId = saved?.id ?? '';
  await audit('integrations');
});

t.test('Sync: History goes running -> succeeded with a moving progress bar', async (t) => {
  // a slow link (~60 KB/s), so the run is seen downloading, parsing and writing whatever the machine's speed
  stack.sim.setFaults({ latencyMs: 300, bytesPerSecond: 60_000 });
  await page.getByRole('button', { name: `Sync ${NAME}` }).click();
  await page.getByText(/Sync queued|Joined the sync/).waitFor();
  await page.getByRole('link', { name: `History of ${NAME}` }).click();
  const bar = page.locator('progress.run-progress').first();
  await bar.waitFor({ timeout: 60_000 });
  const seen = new Set<string>();
  let shotTaken = false;
  await waitFor(
    async () => {
      const state = await page.locator('tr[data-run]').first().getAttribute('data-state');
      if (await bar.isVisible().catch(() => false)) {
        const v = await bar.evaluate((el) => `${(el as HTMLProgressElement).value}/${(el as HTMLProgressElement).max}`, undefined, { timeout: 1000 }).catch(() => null);
        if (v) seen.add(`${state} ${v}`);
        if (!shotTaken && state !== 'queued') {
          await shot('history-running');
          shotTaken = true;
        }
      }
      return state === 'succeeded' || state === 'failed' || state === 'partial';
    },
    600_000,
    150,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${stack.logs.slice(-25).join('\n')}`);
  });
  stack.sim.setFaults(null);
  t.equal(await page.locator('tr[data-run]').first().getAttribute('data-state'), 'succeeded');
  t.ok(seen.size >= 2, `the progress bar moved: ${[...seen].join(', ')}`);
  const jobs = await page.locator('tr[data-run]').first().getByRole('link').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  t.ok(jobs.length >= 2, `the run links its jobs: ${jobs.join(', ')}`);
  for (const j of jobs) t.match(j, /^\/admin\/queues\/queue\/(sync|fetch|parse|upsert|finalize)\//);
  await audit('history');
});

interface Facets {
  facets: Record<string, { value: string | null; count: number }[]>;
}

t.test('Hosts: a host detail shows its Asset Tags and QUALYSPC under Sources', async (t) => {
  await page.getByRole('link', { name: 'Hosts', exact: true }).click();
  await page.getByRole('table', { name: 'Hosts' }).waitFor();
  const rows = await page.getByRole('table', { name: 'Hosts' }).locator('tbody tr').count();
  t.equal(rows, 25, 'a first page of 25 hosts');
  await page.getByRole('button', { name: /^Host Detail of / }).first().click();
  const pane = page.getByRole('complementary', { name: 'Host Detail' });
  await pane.getByRole('list', { name: 'Sources' }).waitFor();
  t.same(await pane.getByRole('list', { name: 'Sources' }).locator('li').allInnerTexts(), ['QUALYSPC']);
  const hostId = new URL(page.url()).searchParams.get('host') ?? '';
  t.ok(hostId, 'the selected host is in the URL');
  const host = (await stack.call('GET', `/api/hosts/${encodeURIComponent(hostId)}`)).json as { tags: string[] };
  t.ok(host.tags.length > 0, 'the simulator gives hosts tags');
  t.same(await pane.getByRole('list', { name: 'Asset Tags' }).locator('li').allInnerTexts(), host.tags, 'Asset Tags as tags');
  await page.getByLabel('Network').fill('web-net');
  await page.getByLabel('Network').press('Enter');
  await waitFor(() => new URL(page.url()).searchParams.get('network') === 'web-net', 5000);
  await audit('hosts');
  await page.getByRole('button', { name: /^Host Detail of / }).first().click();
  await pane.getByRole('link', { name: 'Show the findings of this host' }).click();
  await page.getByRole('table', { name: 'Host findings' }).waitFor();
  t.match(page.url(), /\/findings\?host=/, 'the link filters the findings by the host');
});

/** every row the table lists under the current filters, walking the pages */
async function countRows(p: Page): Promise<number> {
  let n = 0;
  for (;;) {
    // rows of the previous filters stay on screen (aria-busy) until the new ones arrive
    await p.locator('table[aria-label="Host findings"][aria-busy="false"]').waitFor();
    await p.getByRole('table', { name: 'Host findings' }).locator('tbody tr').first().waitFor();
    n += await p.getByRole('table', { name: 'Host findings' }).locator('tbody tr').count();
    const next = p.getByRole('button', { name: 'Next page' });
    if (await next.isDisabled()) return n;
    const first = await p.getByRole('table', { name: 'Host findings' }).locator('tbody tr').first().innerText();
    await next.click();
    await waitFor(async () => (await p.getByRole('table', { name: 'Host findings' }).locator('tbody tr').first().innerText()) !== first, 20_000);
  }
}

t.test('Host Findings: each PolicyCompliance filter in turn; its counts are the API facets and the rows', async (t) => {
  await page.goto('/findings');
  await page.getByRole('table', { name: 'Host findings' }).waitFor();
  const filters = [
    ['testStatus', 'PolicyCompliance:Test Status'],
    ['technology', 'PolicyCompliance:Technology'],
    ['expectedResult', 'PolicyCompliance:Expected Result'],
    ['actualResult', 'PolicyCompliance:Actual Result'],
  ] as const;
  for (const [key, label] of filters) {
    const select = page.getByLabel(label);
    const query = new URL(page.url()).search;
    await waitFor(async () => (await select.locator('option[data-count]').count()) > 0, 30_000);
    await waitFor(async () => !(await page.getByText('Counting…').isVisible()), 30_000);
    const api = (await stack.call('GET', `/api/findings/facets${query ? `${query}&` : '?'}size=100`)).json as Facets;
    const shown = await select.locator('option[data-count]').evaluateAll((os) => os.map((o) => [(o as HTMLOptionElement).value, Number(o.getAttribute('data-count'))]));
    t.same(shown, (api.facets[key] ?? []).map((v) => [v.value ?? 'Unset', v.count]), `${label}: the counts are the API's facet counts`);
    // the rarest value keeps the pages few
    const [value, count] = shown[shown.length - 1] as [string, number];
    await select.selectOption(value);
    await waitFor(() => new URL(page.url()).searchParams.get(key) === value, 5000);
    await waitFor(async () => !(await page.getByText('Counting…').isVisible()), 30_000);
    t.equal(await countRows(page), count, `${label} = ${value}: as many rows as its count (${count})`);
    if (key === 'technology') await shot('findings-filtered');
  }
  await audit('findings');
  const csv = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
  t.match(csv, /^\/api\/findings\/export\.csv\?.*testStatus=/, 'Export CSV carries the filters');
});

t.test('a finding: Observations, Output and its history', async (t) => {
  await page.getByRole('table', { name: 'Host findings' }).getByRole('link').first().click();
  await page.getByRole('heading', { name: 'Host Finding Detail' }).waitFor();
  await page.getByRole('heading', { name: 'Observations' }).waitFor();
  const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop() ?? '');
  const f = (await stack.call('GET', `/api/findings/${encodeURIComponent(id)}`)).json as { testStatus: string; technology: string; expected: string; actual: string; history: unknown[] };
  t.match(await page.getByRole('region', { name: 'Observations' }).innerText(), new RegExp(`Test Status\\s+${f.testStatus}`));
  const output = await page.getByRole('region', { name: 'Output' }).innerText();
  t.match(output, /Expected/);
  t.ok(output.includes((f.expected ?? '—').slice(0, 40)), 'the expected output');
  t.ok(output.includes((f.actual ?? '—').slice(0, 40)), 'the actual output');
  t.match(await page.locator('dl').first().innerText(), new RegExp(`Technology\\s+${(f.technology ?? '—').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  t.equal(await page.getByRole('table', { name: 'Status history' }).locator('tbody tr').count(), f.history.length, 'one row per status change');
  await shot('finding-detail');
  await audit('finding-detail');
});

interface RunJson {
  id: string;
  state: string;
  counts: { findingsClosed: number; findingsReopened: number; urbaClosed: number };
}

async function waitTopRun(states: string[], timeoutMs = 600_000): Promise<string> {
  let state = '';
  await waitFor(
    async () => {
      state = (await page.locator('tr[data-run]').first().getAttribute('data-state').catch(() => '')) ?? '';
      return states.includes(state);
    },
    timeoutMs,
    300,
  ).catch((err: Error) => {
    throw new Error(`${err.message} (last state ${state})\n${stack.logs.slice(-25).join('\n')}`);
  });
  return state;
}

t.test('a changed report: History shows closed, reopened and URBA-closed, and the chart moves', async (t) => {
  const before = ((await stack.call('GET', `/api/connectors/${connectorId}/runs/chart`)).json as { runs: unknown[] }).runs.length;
  stack.sim.scenario.reports.push(held.get('7102')!);
  await page.getByRole('link', { name: 'Integrations', exact: true }).click();
  await page.getByRole('button', { name: `Sync ${NAME}` }).click();
  await page.getByText(/Sync queued|Joined the sync/).waitFor();
  await page.getByRole('link', { name: `History of ${NAME}` }).click();
  await page.locator('figure.chart').waitFor();
  await waitFor(async () => (await page.locator('tr[data-run]').count()) === 2, 120_000);
  t.equal(await waitTopRun(['succeeded', 'failed', 'partial']), 'succeeded');
  const runs = (await stack.call('GET', `/api/connectors/${connectorId}/runs`)).json as { items: RunJson[] };
  const top = runs.items[0]!;
  const c = top.counts;
  t.ok(c.findingsClosed + c.urbaClosed > 0, 'the changed report closed findings');
  const row = await page.locator(`tr[data-run="${top.id}"] td.counts`).innerText();
  t.match(row, new RegExp(`${c.findingsClosed} closed, ${c.findingsReopened} reopened, ${c.urbaClosed} URBA-closed`));
  t.equal(before, 1, 'before the changed report the chart has the first run');
  // the chart redraws once the run has ended: its last bars are the new run's counts
  const bars = async () => [
    await page.locator('rect[data-series="closed"]').count(),
    await page.locator('rect[data-series="closed"]').last().getAttribute('data-value'),
    await page.locator('rect[data-series="urbaClosed"]').last().getAttribute('data-value'),
  ];
  await waitFor(async () => JSON.stringify(await bars()) === JSON.stringify([before + 1, String(c.findingsClosed), String(c.urbaClosed)]), 30_000).catch(async () => {
    t.fail(`the chart shows ${JSON.stringify(await bars())}, the run ${JSON.stringify([before + 1, c.findingsClosed, c.urbaClosed])}`);
  });
});

t.test('a failed run (Qualys answers an error instead of the report); Edit the connector; Retry the run', async (t) => {
  stack.sim.scenario.reports.push(held.get('7103')!);
  stack.sim.setFaults({ simpleReturn200: { code: 999, text: 'Report temporarily unavailable' } }, '7103');
  await page.getByRole('link', { name: 'Integrations', exact: true }).click();
  await page.getByRole('button', { name: `Sync ${NAME}` }).click();
  await page.getByText(/Sync queued|Joined the sync/).waitFor();
  await page.getByRole('link', { name: `History of ${NAME}` }).click();
  await waitFor(async () => (await page.locator('tr[data-run]').count()) === 3, 120_000);
  t.equal(await waitTopRun(['succeeded', 'failed', 'partial', 'no-new-report']), 'failed');
  const failedId = (await page.locator('tr[data-run]').first().getAttribute('data-run')) ?? '';
  t.match(await page.locator(`tr[data-run="${failedId}"]`).innerText(), /QUALYS_API_ERROR.*Report temporarily unavailable/, 'the error code and message');

  await page.getByRole('link', { name: 'Integrations', exact: true }).click();
  await page.getByRole('link', { name: `Edit ${NAME}` }).click();
  await page.getByRole('heading', { name: `Edit ${NAME}` }).waitFor();
  t.equal(await page.getByLabel('Password').inputValue(), '', 'the password is never sent back');
  t.equal(await page.getByLabel('Password').getAttribute('placeholder'), 'unchanged');
  await page.getByRole('button', { name: 'Preview auto URBA' }).click();
  await page.getByText(/auto URBA would close \d+ of \d+ open findings/).waitFor();
  const urba = (await stack.call('GET', `/api/connectors/${connectorId}/urba/preview`)).json as { candidates: number; openBefore: number };
  t.match(await page.getByText(/auto URBA would close/).innerText(), `would close ${urba.candidates} of ${urba.openBefore} open findings`);
  // Test Credentials with the saved password (the field left empty)
  await page.getByRole('button', { name: 'Test Credentials' }).click();
  await page.getByText('Every check passed.').waitFor();
  await page.getByLabel(/URBA threshold/).fill('0.9');
  // leaving with unsaved changes asks first
  await page.getByRole('link', { name: 'Hosts', exact: true }).click();
  await page.getByRole('alertdialog', { name: 'Leave without saving?' }).waitFor();
  await page.getByRole('button', { name: 'Stay' }).click();
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('heading', { name: 'Currently Configured Integrations' }).waitFor();
  const edited = (await stack.call('GET', `/api/connectors/${connectorId}`)).json as { urbaThreshold: number; hasPassword: boolean };
  t.match(edited, { urbaThreshold: 0.9, hasPassword: true }, 'saved, the password kept');

  stack.sim.setFaults(null, '7103');
  await page.getByRole('link', { name: `History of ${NAME}` }).click();
  await page.getByRole('button', { name: `Retry run ${failedId}` }).click();
  const outcome = page.getByText(/^Retry requested/).or(page.locator(`tr[data-run="${failedId}"] [role=alert]`));
  await outcome.first().waitFor();
  t.equal(await outcome.first().innerText(), 'Retry requested: 1 failed job back in the queue', 'its failed fetch job is retried');
  // the worker that takes the retried job revives the run; the retried fetch logs in with the saved password (the edit kept it)
  await waitFor(async () => (await page.locator(`tr[data-run="${failedId}"]`).getAttribute('data-state')) !== 'failed', 120_000, 200);
  t.equal(await waitTopRun(['succeeded', 'failed', 'partial']), 'succeeded', 'the retried run succeeded');
  t.equal(await page.locator('tr[data-run]').first().getAttribute('data-run'), failedId, 'the same run, revived');
});

t.test('a run that failed in the sync stage has no job to retry: Retry starts a new sync and says so', async (t) => {
  // the saved password goes wrong (through the API): the sync's login fails for good before any report is fetched
  t.equal((await stack.call('PATCH', `/api/connectors/${connectorId}`, { password: WRONG })).status, 200);
  await page.getByRole('link', { name: 'Integrations', exact: true }).click();
  await page.getByRole('button', { name: `Sync ${NAME}` }).click();
  await page.getByRole('link', { name: `History of ${NAME}` }).click();
  const before = await page.locator('tr[data-run]').count();
  await waitFor(async () => (await page.locator('tr[data-run]').count()) > before, 120_000);
  t.equal(await waitTopRun(['succeeded', 'failed', 'partial', 'no-new-report']), 'failed');
  const failedId = (await page.locator('tr[data-run]').first().getAttribute('data-run')) ?? '';
  const run = (await stack.call('GET', `/api/runs/${encodeURIComponent(failedId)}`)).json as { error: { stage: string }; jobs: unknown[] };
  t.equal(run.error.stage, 'sync', 'failed in the sync stage');
  t.same(run.jobs, [], 'with no job of its own to retry');

  t.equal((await stack.call('PATCH', `/api/connectors/${connectorId}`, { password: CANARY })).status, 200);
  await page.getByRole('button', { name: `Retry run ${failedId}` }).click();
  const said = page.locator(`tr[data-run="${failedId}"] [role=status]`).or(page.locator(`tr[data-run="${failedId}"] [role=alert]`));
  await said.first().waitFor();
  t.match(await said.first().innerText(), /no failed job left.*started a new sync of the connector instead/, 'says it started a sync instead');
  await waitFor(async () => (await page.locator('tr[data-run]').count()) > before + 1, 120_000);
  t.match(await waitTopRun(['succeeded', 'failed', 'partial', 'no-new-report']), /^(succeeded|no-new-report)$/, 'the new sync ran with the right password');
});

interface OverviewJson {
  networks: { network: string; openBySeverity: Record<string, number>; policies: { policyId: string; passRate: number }[]; topFailingControls: { controlId: string; hosts: number }[] }[];
  staleConnectors: unknown[];
  failedRuns7d: unknown[];
}

t.test('Integrations shows the last run and freshness; Overview shows the posture the API computes', async (t) => {
  await page.getByRole('link', { name: 'Integrations', exact: true }).click();
  const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: NAME }) });
  await waitFor(async () => /succeeded|no-new-report/.test(await row.innerText()), 20_000);
  const text = await row.innerText();
  t.match(text, /daily at 02:30/, 'the schedule in words');
  t.match(text, /next \d{4}-\d\d-\d\d 02:30 UTC/, 'and its next run');
  t.match(text, /data 1[23] h old/, 'the newest report was generated 12 h ago');
  t.notMatch(text, /stale/, 'fresh under the default 8 days');
  await page.getByLabel('Search integrations').fill('Policy Compliance');
  await shot('integrations');

  // a threshold under the data's age (6 h): the row turns stale and says why; back to the default, fresh again
  t.equal((await stack.call('PATCH', `/api/connectors/${connectorId}`, { staleAfterDays: 0.25 })).status, 200);
  await page.reload();
  await waitFor(async () => /stale/.test(await row.innerText()), 20_000);
  const staleText = await row.innerText();
  t.match(staleText, /stale: data 1[23] h old/, 'a stale badge');
  t.match(staleText, /the newest assessment is 1[23] h old, over the 0\.25 d threshold/, 'with the reason');
  t.equal((await stack.call('PATCH', `/api/connectors/${connectorId}`, { staleAfterDays: null })).status, 200);
  await page.reload();
  await waitFor(async () => !/stale/.test(await row.innerText()), 20_000);

  await page.getByRole('link', { name: 'Overview' }).click();
  await page.getByRole('heading', { name: 'Network web-net' }).waitFor();
  const o = (await stack.call('GET', '/api/overview')).json as OverviewJson;
  const net = o.networks.find((n) => n.network === 'web-net')!;
  const section = page.getByRole('region', { name: 'Network web-net' });
  const sectionText = await section.innerText();
  for (const [sev, n] of Object.entries(net.openBySeverity)) if (n > 0) t.match(sectionText, new RegExp(`${sev} ${n}\\b`), `${sev}: ${n} open`);
  const policyRows = section.getByRole('table', { name: 'Pass rate per policy in web-net' }).locator('tbody tr');
  t.equal(await policyRows.count(), net.policies.length, 'a row per policy');
  t.match(await policyRows.first().innerText(), `${Math.round(net.policies[0]!.passRate * 1000) / 10}%`);
  const controls = section.getByRole('table', { name: 'Controls failing on the most hosts in web-net' }).locator('tbody tr');
  t.equal(await controls.count(), net.topFailingControls.length);
  t.match(await controls.first().innerText(), new RegExp(`${net.topFailingControls[0]!.controlId}[\\s\\S]*\\b${net.topFailingControls[0]!.hosts}$`));
  const failedList = page.getByRole('region', { name: 'Runs failed in the last 7 days' });
  t.equal(await failedList.locator('li').count(), o.failedRuns7d.length, 'the failed runs of the week');
  await audit('overview');
});

t.test('Delete: confirmed by typing the name, hosts and findings purged', async (t) => {
  await page.getByRole('link', { name: 'Integrations', exact: true }).click();
  await page.getByRole('button', { name: `Delete ${NAME}` }).click();
  const dialog = page.getByRole('dialog', { name: `Delete ${NAME}` });
  t.match(await dialog.innerText(), /removes the connector, its saved credentials and its schedule/);
  const confirm = dialog.getByRole('button', { name: 'Delete connector' });
  t.ok(await confirm.isDisabled(), 'not before the name is typed');
  await dialog.getByLabel('Purge them').check();
  await dialog.getByLabel('Type the connector name to confirm').fill(NAME);
  const answer = page.waitForResponse((r) => r.request().method() === 'DELETE');
  await confirm.click();
  const del = await answer;
  t.match(del.url(), new RegExp(`/api/connectors/${connectorId}\\?purge=true$`), 'the purge choice is sent');
  t.match(await del.json(), { deleted: true, purged: { networkPurged: true } });
  await page.getByText('No connectors yet').waitFor();
  const hosts = (await stack.call('GET', '/api/hosts?network=web-net')).json as { items: unknown[] };
  t.same(hosts.items, [], 'the hosts were purged');
});

t.test('the network log: the connector password never reached the browser', async (t) => {
  await b.settle();
  t.ok(b.network.length > 20, `${b.network.length} responses logged`);
  const leaks = b.network.filter((e) => [CANARY, WRONG].some((secret) => `${e.url}\n${e.headers}\n${e.body}`.includes(secret)));
  t.same(leaks.map((e) => e.url), [], 'no response carries it');
});

t.test('accessibility: no serious or critical axe violation on any page', async (t) => {
  for (const [name, v] of a11y) t.same(v, [], name);
  t.same(b.problems, [], 'no page error');
});

