/**
 * The repository's own lint rules (eslint.config.js at the root), run on sources written here: each must
 * refuse what it is there to refuse and let the rest through, and `eslint` (so `npm run lint`) must exit
 * non-zero on a refused file.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const eslint = new ESLint({ cwd: root });

/** The lint messages of `code` as if it were the file `file` (relative to the root). */
async function lint(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

t.test('a package may not import an app: by package name, by relative path, dynamically', async (t) => {
  const refused = /a package may not import an app/;
  t.match(await lint('packages/domain/src/probe.ts', "import { run } from '@qpc/qualys-sim-app';\nexport const a = run;\n"), [refused]);
  t.match(await lint('packages/store/src/probe.ts', "import { x } from '@qpc/worker-upsert/src/x.ts';\nexport const a = x;\n"), [refused]);
  t.match(await lint('packages/jobs/test/probe.ts', "import { x } from '../../../apps/api/src/x.ts';\nexport const a = x;\n"), [refused]);
  t.match(await lint('packages/jobs/src/probe.ts', "export * from '@qpc/scheduler';\n"), [refused]);
  t.match(await lint('packages/jobs/src/probe.ts', "export const a = await import('@qpc/api');\n"), [refused]);
  t.same(await lint('packages/domain/src/probe.ts', "import { startSimulator } from '@qpc/qualys-sim';\nexport const a = startSimulator;\n"), [], 'the simulator library is a package');
  t.same(await lint('packages/domain/src/probe.ts', "import { x } from './apps-list.ts';\nexport const a = x;\n"), [], 'a file merely named like apps is not an app');
  t.same(await lint('apps/cli/src/probe.ts', "import { run } from '@qpc/qualys-sim-app';\nexport const a = run;\n"), [], 'an app may use another app');
});

/** Only the messages of the restriction rules (the probes below leave their types loose on purpose). */
async function restricted(file: string, code: string): Promise<string[]> {
  return (await lint(file, code)).filter((m) => m.startsWith('no-restricted-'));
}

t.test('runs are written only by the run-lifecycle module', async (t) => {
  const refused = /runs are written only by the run-lifecycle module/;
  const decl = 'declare const store: any; declare const db: any; declare const COLLECTIONS: any;\n';
  for (const [file, call] of [
    ['packages/store/src/probe.ts', 'await store.col.runs.updateOne({ _id: 1 }, { $set: { state: "failed" } });'],
    ['packages/store/src/probe.ts', 'await store.col.runs.bulkWrite([]);'],
    ['apps/worker-fetch/src/probe.ts', 'await store.col.runs.findOneAndUpdate({ _id: 1 }, { $set: { state: "failed" } });'],
    ['apps/api/src/probe.ts', 'await db.collection("runs").insertOne({});'],
    ['apps/api/src/probe.ts', 'await db.collection(COLLECTIONS.runs).deleteMany({});'],
  ] as const) {
    t.match(await restricted(file, decl + call), [refused], `${file}: ${call}`);
  }
  t.same(await restricted('packages/store/src/pipeline/runs.repository.ts', `${decl}await store.col.runs.updateOne({ _id: 1 }, { $set: {} });`), [], 'the lifecycle module writes runs');
  for (const file of ['packages/store/src/files/report-retention.ts', 'packages/store/src/pipeline/run-finalizer.ts', 'apps/api/src/routes/connector-cleanup.ts', 'apps/worker-fetch/src/fetch.service.ts', 'apps/worker-parse/src/processors.ts']) {
    t.match(await restricted(file, `${decl}await store.col.runs.findOneAndUpdate({ _id: 1 }, { $set: {} });`), [refused], `${file}: no file but the lifecycle module is exempt`);
  }
  t.same(await restricted('apps/api/src/probe.ts', `${decl}await store.col.runs.findOne({ _id: 1 }); await store.col.hosts.updateOne({}, { $set: {} });`), [], 'reads of runs and writes of other collections');
  t.same(await restricted('apps/api/test/probe.ts', `${decl}await store.col.runs.updateOne({ _id: 1 }, { $set: {} });`), [], 'tests set up runs directly');
  t.match(await restricted('packages/store/src/pipeline/runs.repository.ts', "export const a = await import('@qpc/api');\n"), [/a package may not import an app/], 'the lifecycle module still may not import an app');
});

t.test('eslint exits non-zero on a package that imports an app', async (t) => {
  const bin = path.join(root, 'node_modules/eslint/bin/eslint.js');
  const child = spawn(process.execPath, [bin, '--stdin', '--stdin-filename', 'packages/domain/src/probe.ts'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin.end("import { createApi } from '@qpc/api';\nexport const a = createApi;\n");
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  t.equal(code, 1, out);
  t.match(out, /a package may not import an app/);
});
