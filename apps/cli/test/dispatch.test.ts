import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const qpc = path.join(here, '..', 'bin', 'qpc.mjs');

t.test('help lists every command file', async (t) => {
  const r = spawnSync(process.execPath, [qpc, '--help'], { encoding: 'utf8' });
  t.equal(r.status, 0);
  t.match(r.stdout, /usage: qpc <command>/);
  const commands = readdirSync(path.join(here, '..', 'src', 'commands')).filter((f) => f.endsWith('.ts'));
  for (const f of commands) t.match(r.stdout, new RegExp(`\\n  ${f.slice(0, -3)} `), f);
});

t.test('an unknown command exits 2 with a message', async (t) => {
  const r = spawnSync(process.execPath, [qpc, 'no-such-command'], { encoding: 'utf8' });
  t.equal(r.status, 2);
  t.match(r.stderr, /unknown command "no-such-command"/);
});

t.test('no command prints usage and exits 2', async (t) => {
  const r = spawnSync(process.execPath, [qpc], { encoding: 'utf8' });
  t.equal(r.status, 2);
  t.match(r.stdout, /usage/);
});
