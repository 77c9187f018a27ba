/**
 * Who may do what in the console, in a real browser against the real stack: an admin sees the write
 * controls, a viewer sees every page and none of them; a forged cross-site POST is refused; signing out
 * ends the session server-side.
 */
import t from 'tap';
import type { Page } from 'playwright-core';
import { waitFor } from '@qpc/testing';
import { seriousViolations } from './a11y.ts';
import { ADMIN, openBrowser, startWebStack, VIEWER } from './stack.ts';

const NAME = 'Access connector';
const stack = await startWebStack(t, {
  scenario: {
    user: { login: 'pc-user', password: 'right-password-1' },
    reports: [{ id: '7201', title: 'QPC-ACC Servers', launched: '-1d', seed: 7201, size: { hosts: 4, controls: 2, instancesPerControl: 1, policies: 1 } }],
  },
});

// a connector whose password Qualys refuses: its sync fails, so History offers Retry to an admin
const created = await stack.call('POST', '/api/connectors', {
  name: NAME, url: stack.sim.url, username: 'pc-user', password: 'wrong-password-1', network: 'acc-net', reportTitlePrefix: 'QPC-ACC',
});
const id = (created.json as { id: string }).id;
await stack.call('POST', `/api/connectors/${id}/sync`, {});
await waitFor(
  async () => ((await stack.call('GET', `/api/connectors/${id}/runs`)).json as { items: { state: string }[] }).items.some((r) => r.state === 'failed'),
  120_000,
  500,
);

async function signIn(p: Page, token: string) {
  await p.goto('/');
  await p.getByLabel('API token').fill(token);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByText(/Signed in as/).waitFor();
}

const WRITES = /^(Sync|Edit|Delete|Configuration|Save|Retry|Test Credentials)\b/;
const PAGES = ['/integrations', `/integrations/${id}/history`, `/integrations/${id}/edit`, '/hosts', '/findings', '/'];

/** the write controls each page offers, once its data is on screen */
async function writeControls(p: Page): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const path of PAGES) {
    await p.goto(path);
    await p.locator('main h1').first().waitFor();
    await waitFor(async () => (await p.getByText(/^Loading /).count()) === 0, 60_000);
    if (path.endsWith('/history')) await p.locator('tr[data-run]').first().waitFor();
    if (path === '/integrations') await p.getByRole('rowheader', { name: NAME }).waitFor();
    const names = [...(await p.getByRole('button').allInnerTexts()), ...(await p.getByRole('link').allInnerTexts())].map((n) => n.trim());
    out[path] = names.filter((n) => WRITES.test(n)).sort();
  }
  return out;
}

t.test('an admin sees the write controls', async (t) => {
  const b = await openBrowser(t, stack.base);
  await signIn(b.page, ADMIN);
  const found = await writeControls(b.page);
  t.same(found['/integrations'], ['Configuration', 'Delete', 'Edit', 'Sync']);
  t.same(found[`/integrations/${id}/history`], ['Retry']);
  t.same(found[`/integrations/${id}/edit`], ['Save', 'Test Credentials']);
  t.same(b.problems, []);
});

t.test('a viewer sees every page and no control that writes', async (t) => {
  const b = await openBrowser(t, stack.base);
  await signIn(b.page, VIEWER);
  t.match(await b.page.getByText(/Signed in as/).innerText(), /viewer/);
  const found = await writeControls(b.page);
  for (const path of PAGES) t.same(found[path], [], `${path}: no write control`);
  await b.page.goto('/integrations');
  t.match(await b.page.getByRole('row').filter({ hasText: NAME }).innerText(), /failed/, 'the viewer reads the connector and its last run');
  t.same(await seriousViolations(b.page), [], 'accessible as a viewer too');
  t.same(b.problems, []);
});

t.test('a forged cross-site POST is refused; signing out ends the session', async (t) => {
  const b = await openBrowser(t, stack.base);
  await signIn(b.page, ADMIN);
  const runs = async () => ((await stack.call('GET', `/api/connectors/${id}/runs`)).json as { items: unknown[] }).items.length;
  const before = await runs();
  // the browser's own session cookie with another site's Origin
  const forged = await b.context.request.post(`/api/connectors/${id}/sync`, { headers: { origin: 'https://evil.example', 'content-type': 'application/json' }, data: {} });
  t.equal(forged.status(), 403);
  t.equal(((await forged.json()) as { error: { code: string } }).error.code, 'CROSS_ORIGIN');
  // a post from a page of another origin (the simulator's), as a malicious site would send it
  const syncUrl = `${stack.base}/api/connectors/${id}/sync`;
  await b.page.goto(`${stack.sim.url}/msp/about.php`);
  const answer = b.page.waitForResponse((r) => r.url() === syncUrl && r.request().method() === 'POST');
  await b.page.evaluate(async (url) => {
    await fetch(url, { method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{}' });
  }, syncUrl);
  t.ok([401, 403].includes((await answer).status()), `refused with ${(await answer).status()}`);
  await new Promise((r) => setTimeout(r, 1000));
  t.equal(await runs(), before, 'no sync started');
  // the same origin may write
  const own = await b.context.request.post(`/api/connectors/${id}/sync`, { headers: { origin: stack.base, 'content-type': 'application/json' }, data: {} });
  t.equal(own.status(), 202, 'the console itself may sync');

  await b.page.goto('/integrations');
  await b.page.getByRole('button', { name: 'Sign out' }).click();
  await b.page.getByLabel('API token').waitFor();
  const after = await b.context.request.get('/api/connectors');
  t.equal(after.status(), 401, 'the old cookie no longer opens the API');
});
