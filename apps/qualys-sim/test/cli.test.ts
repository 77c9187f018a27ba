import t from 'tap';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenarioFile, startSimulator } from '@qpc/qualys-sim';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const example = path.resolve(here, '../scenarios/example.json');
const auth = { 'X-Requested-With': 'qpc-test', Authorization: `Basic ${Buffer.from('acme_aa:not-a-real-password').toString('base64')}` };

/** A GET with the test's headers: status, content type and body text. */
async function call(base: string, pathAndQuery: string) {
  const res = await fetch(new URL(pathAndQuery, base), { headers: auth });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}
const simpleCode = (body: string) => /<CODE>(\d+)<\/CODE>/.exec(body)?.[1] ?? null;

/** `qpc <args>` (the CLI's entry), or the app's own main with `main: true`. */
function qpc(args: string[], main = false) {
  const entry = main ? path.join(root, 'apps/qualys-sim/src/main.ts') : path.join(root, 'apps/cli/src/main.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exit, out: () => out, err: () => err };
}

t.test('the example scenario file loads and serves', async (t) => {
  const sc = await loadScenarioFile(example);
  t.same(sc.reports.map((r) => `${r.id}:${r.state}`), ['2001:Finished', '2002:Finished', '2003:Running', '2004:Finished', '2005:Finished']);
  t.equal(sc.reports[1]?.derivedFrom, '2001');
  const s = await startSimulator({ scenario: example });
  t.teardown(() => s.close());
  const list = await call(s.url, '/api/2.0/fo/report/?action=list');
  t.equal(list.status, 200);
  t.match(list.text, /<USER_LOGIN>acme_aa<\/USER_LOGIN>/);
  const csv = await call(s.url, '/api/2.0/fo/report/?action=fetch&id=2005');
  t.match(csv.type, /text\/csv/);
  const xml = await call(s.url, '/api/2.0/fo/report/?action=fetch&id=2001');
  t.match(xml.text, /<POLICY_REPORT>[\s\S]*<STATUS>(PASSED|FAILED|ERROR)<\/STATUS>/);
  t.equal(simpleCode((await call(s.url, '/api/2.0/fo/report/?action=fetch&id=2004')).text), '1906');
});

t.test('qpc sim: prints URL, user and the development-tool warning; serves; stops on SIGTERM', async (t) => {
  const p = qpc(['sim', '--port', '0', '--scenario', example]);
  t.teardown(() => {
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
  });
  const deadline = Date.now() + 20_000;
  while (!/WARNING: this is a development tool/.test(p.out()) && Date.now() < deadline && p.child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  const url = /listening at (http:\/\/\S+)/.exec(p.out())?.[1];
  t.ok(url, p.out() + p.err());
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'loopback by default');
  t.match(p.out(), /user: acme_aa/);
  t.match(p.out(), /WARNING: this is a development tool/);
  t.notMatch(p.out(), /not-a-real-password/, 'the password is not printed');
  const a = await call(url as string, '/msp/about.php');
  t.equal(a.status, 200);
  p.child.kill('SIGTERM');
  t.equal(await p.exit, 0);
  t.match(p.out(), /simulator stopped/);
});

t.test('qpc sim: bad arguments and a missing scenario file fail with a message', async (t) => {
  const bad = qpc(['sim', '--port', 'abc']);
  t.equal(await bad.exit, 2);
  t.match(bad.err(), /--port must be/);
  const missing = qpc(['sim', '--port', '0', '--scenario', path.join(here, 'no-such-file.json')]);
  t.equal(await missing.exit, 1);
  t.match(missing.err(), /cannot read scenario file/);
});

t.test('the app main: the same command line, named after the app; serves and stops on SIGTERM', async (t) => {
  const bad = qpc(['--port', 'abc'], true);
  t.equal(await bad.exit, 2);
  t.match(bad.err(), /^qualys-sim: --port must be/);
  const p = qpc(['--port', '0', '--scenario', example], true);
  t.teardown(() => {
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
  });
  const deadline = Date.now() + 20_000;
  while (!/listening at/.test(p.out()) && Date.now() < deadline && p.child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  const url = /listening at (http:\/\/\S+)/.exec(p.out())?.[1];
  t.ok(url, p.out() + p.err());
  t.equal((await call(url as string, '/msp/about.php')).status, 200);
  p.child.kill('SIGTERM');
  t.equal(await p.exit, 0);
  t.match(p.out(), /simulator stopped/);
});
