/** The console's files at /, index.html for client-side routes, the API's prefixes untouched. */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startApi } from './helpers.ts';

const dir = await mkdtemp(path.join(tmpdir(), 'qpc-web-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
await mkdir(path.join(dir, 'assets'));
await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>console-index-marker</title>');
await writeFile(path.join(dir, 'assets', 'app.js'), 'console.log("app-js-marker");');
await writeFile(path.join(path.dirname(dir), `${path.basename(dir)}-secret.txt`), 'outside-marker');
t.teardown(() => rm(path.join(path.dirname(dir), `${path.basename(dir)}-secret.txt`), { force: true }));

const api = await startApi(t, { webDir: dir });

t.test('files, and index.html for any other GET path, with no token', async (t) => {
  const root = await api.call('GET', '/', { token: null });
  t.equal(root.status, 200);
  t.match(root.text, 'console-index-marker');
  t.match(root.headers.get('content-type') ?? '', /text\/html/);
  t.equal(root.headers.get('x-frame-options'), 'DENY', 'never framed by another site');
  const js = await api.call('GET', '/assets/app.js', { token: null });
  t.equal(js.status, 200);
  t.match(js.text, 'app-js-marker');
  t.match(js.headers.get('content-type') ?? '', /javascript/);
  for (const p of ['/connectors/abc', '/runs/r1?tab=jobs', '/findings', '/assets/missing.js']) {
    const r = await api.call('GET', p, { token: null });
    t.equal(r.status, 200, p);
    t.match(r.text, 'console-index-marker', `${p}: index.html`);
  }
  const up = await api.call('GET', `/..%2f${path.basename(dir)}-secret.txt`, { token: null });
  t.notMatch(up.text, 'outside-marker', 'nothing outside the folder');
});

t.test("the API's own paths are not the console's", async (t) => {
  for (const p of ['/api/connectors', '/api/nope', '/admin/queues', '/metrics', '/API/connectors']) {
    const r = await api.call('GET', p, { token: null });
    t.equal(r.status, 401, `${p} stays behind auth`);
    t.notMatch(r.text, 'console-index-marker');
  }
  t.equal((await api.call('GET', '/healthz', { token: null })).json.status, 'ok');
  const post = await api.call('POST', '/connectors', { token: null, body: {} });
  t.equal(post.status, 401, 'only GET and HEAD are the console');
});

t.test('without a build, / says how to build', async (t) => {
  const bare = await startApi(t, { webDir: path.join(dir, 'no-such-folder') });
  const r = await bare.call('GET', '/', { token: null });
  t.equal(r.status, 200);
  t.match(r.text, 'npm run build');
  t.equal((await bare.call('GET', '/api/connectors', { token: null })).status, 401);
});
