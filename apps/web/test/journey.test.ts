/**
 * The console's journey in a real browser against the real stack (API serving the built console,
 * workers, Qualys simulator, Redis, FerretDB): sign in; configure a connector from the catalogue;
 * Test Credentials wrong then right; schedule preview; Save; Sync and watch History; Hosts; Host
 * Findings filters against the API's facets; a finding's detail; a changed report; edit; delete.
 * axe-core on every page; the connector password (a canary) never reaches the browser.
 */
import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { ScenarioReport } from '@qpc/qualys-sim';
import { waitFor } from '@qpc/testing';
import { seriousViolations } from './a11y.ts';
import { ADMIN, openBrowser, startWebStack, VIEWER } from './stack.ts';

const CANARY = 'Canary-web-5e2d9a-Pa55';
const WRONG = 'Wrong-web-0b7c44-Pa55';
const USER = 'pc-web-user';
const TITLE = 'QPC-WEB Servers';
const NAME = 'Web journey connector';
const SHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/screenshots');

const stack = await startWebStack(t, {
  scenario: {
    user: { login: USER, password: CANARY },
    reports: [
      { id: '7101', title: TITLE, launched: '-2d', seed: 7101, size: { hosts: 120, controls: 8, instancesPerControl: 1, policies: 1 } },
      {
        id: '7102',
        title: TITLE,
        launched: '-1d',
        derivedFrom: '7101',
        mutations: [
          { type: 'flip', percent: 25 },
          { type: 'dropControls', cids: ['1001', '1002'], firstHosts: 20 },
        ],
      },
    ],
  },
});
// the changed report appears on the "server" later, as a newly finished report would
const held = stack.sim.scenario.reports.splice(
  stack.sim.scenario.reports.findIndex((r) => r.id === '7102'),
  1,
)[0] as ScenarioReport;

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
  await page.getByRole('link', { name: 'Integrations' }).click();
  await page.getByText('No connectors yet').waitFor();
  await audit('integrations-empty');
  const search = page.getByLabel('Search integrations');
  await search.fill('Zscaler');
  t.equal(await page.getByRole('heading', { name: 'Qualys Policy Compliance' }).count(), 0, 'another search hides the card');
  await search.fill('Policy Compliance');
  await page.getByRole('heading', { name: 'Qualys Policy Compliance' }).waitFor();
  await shot('integrations');
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

  await page.getByLabel('Password').fill(CANARY);
  await page.getByRole('button', { name: 'Test Credentials' }).click();
  await page.getByText('Every check passed.').waitFor();
  const result = await page.getByTestId('test-result').innerText();
  t.match(result, /Login: passed/);
  t.match(result, /Policy Compliance access: passed/);
  t.match(result, /Matching reports: passed — 1 matching report, newest “QPC-WEB Servers” of \d{4}-\d\d-\d\d/);
  t.match(result, /Took \d/);

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
  stack.sim.setFaults({ latencyMs: 300 });
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
        const v = await bar.evaluate((el) => `${(el as HTMLProgressElement).value}/${(el as HTMLProgressElement).max}`).catch(() => null);
        if (v) seen.add(`${state} ${v}`);
        if (!shotTaken && state !== 'queued') {
          await shot('history-running');
          shotTaken = true;
        }
      }
      return state === 'succeeded' || state === 'failed' || state === 'partial';
    },
    120_000,
    150,
  );
  stack.sim.setFaults(null);
  t.equal(await page.locator('tr[data-run]').first().getAttribute('data-state'), 'succeeded');
  t.ok(seen.size >= 2, `the progress bar moved: ${[...seen].join(', ')}`);
  await audit('history');
});

t.test('the network log: the connector password never reached the browser', async (t) => {
  await b.settle();
  t.ok(b.network.length > 20, `${b.network.length} responses logged`);
  const leaks = b.network.filter((e) => `${e.url}\n${e.headers}\n${e.body}`.includes(CANARY) || `${e.url}\n${e.headers}\n${e.body}`.includes(WRONG));
  t.same(leaks.map((e) => e.url), [], 'no response carries it');
});

t.test('accessibility: no serious or critical axe violation on any page', async (t) => {
  for (const [name, v] of a11y) t.same(v, [], name);
  t.same(b.problems, [], 'no page error');
});

void VIEWER;
