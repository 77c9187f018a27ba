import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { testMongo } from '@qpc/testing';
import { createStore, REPORT_BUCKET, StoreError, type Store } from '../src/db.ts';
import { readReportFile, saveReportFile, sweepReportTempDirs } from '../src/files.ts';

async function readAll(store: Store, id: string, tmpDir: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of readReportFile(store, id, { tmpDir })) parts.push(b);
  return Buffer.concat(parts);
}

t.test('a stored report is read back whole, in order, through a temporary file that is then removed', async (t) => {
  const { db } = await testMongo(t);
  const store = createStore(db);
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'qpc-test-'));
  t.teardown(() => rm(tmpDir, { recursive: true, force: true }));
  // 3 chunks and a part (255 KB chunks), and another file in the same bucket
  const body = randomBytes(3 * 255 * 1024 + 1000);
  const id = randomUUID();
  await saveReportFile(store, id, Readable.from([body]));
  await saveReportFile(store, randomUUID(), Readable.from([randomBytes(300_000)]));
  // stored out of order: the copy writes each chunk at its own offset
  const chunks = db.collection(`${REPORT_BUCKET}.chunks`);
  const docs = await chunks.find({ files_id: id }).toArray();
  await chunks.deleteMany({ files_id: id });
  await chunks.insertMany(docs.reverse());

  const back = await readAll(store, id, tmpDir);
  t.equal(back.length, body.length, `${back.length} bytes`);
  t.ok(back.equals(body), 'the same bytes');
  t.same(await readdir(tmpDir), [], 'the temporary file is removed');

  // a consumer that stops early leaves nothing behind either
  for await (const b of readReportFile(store, id, { tmpDir })) {
    t.ok(b.length > 0, 'first part read');
    break;
  }
  t.same(await readdir(tmpDir), [], 'removed after an early stop');
});

t.test('a report with a chunk missing or damaged is refused before anything is read, and leaves nothing behind', async (t) => {
  const { db } = await testMongo(t);
  const store = createStore(db);
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'qpc-test-'));
  t.teardown(() => rm(tmpDir, { recursive: true, force: true }));
  const chunks = db.collection(`${REPORT_BUCKET}.chunks`);

  const missing = randomUUID();
  await saveReportFile(store, missing, Readable.from([randomBytes(3 * 255 * 1024)]));
  await chunks.deleteOne({ files_id: missing, n: 1 });
  const short = randomUUID();
  await saveReportFile(store, short, Readable.from([randomBytes(2 * 255 * 1024)]));
  await chunks.updateOne({ files_id: short, n: 0 }, { $set: { data: randomBytes(10) } });

  for (const [id, code, pattern] of [
    [missing, 'REPORT_FILE_MISSING', /chunks 1\.\. missing/],
    [short, 'REPORT_FILE_MISMATCH', /chunk 0 .* 10 bytes/],
    [randomUUID(), 'REPORT_FILE_MISSING', /is not stored/],
  ] as const) {
    let parts = 0;
    try {
      for await (const _ of readReportFile(store, id, { tmpDir })) parts++;
      t.fail(`${code}: read ${parts} parts`);
    } catch (err) {
      t.ok(err instanceof StoreError && err.code === code, `${code}: ${(err as Error).message}`);
      t.match((err as Error).message, pattern);
    }
    t.equal(parts, 0, `${code}: nothing handed to the consumer`);
  }
  t.same(await readdir(tmpDir), [], 'no temporary file left');
});

t.test('the temporary copies of killed processes are swept at start; those of live processes stay', async (t) => {
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'qpc-test-'));
  t.teardown(() => rm(tmpDir, { recursive: true, force: true }));
  // a process that makes its copy folder the way readReportFile names it, then waits to be killed
  const holder = () => {
    const child = spawn(process.execPath, ['-e', `
      const fs = require('node:fs'), path = require('node:path');
      const dir = fs.mkdtempSync(path.join(${JSON.stringify(tmpDir)}, 'qpc-report-' + process.pid + '-'));
      fs.writeFileSync(path.join(dir, 'report'), Buffer.alloc(100000));
      console.log(path.basename(dir));
      setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    return once(child.stdout, 'data').then(([d]) => ({ child, dir: String(d).trim() }));
  };
  const killed = await holder();
  killed.child.kill('SIGKILL');
  await once(killed.child, 'exit');
  const live = await holder();
  t.teardown(() => void live.child.kill('SIGKILL'));
  // this process's own pid: a previous life of a container's first process
  const own = `qpc-report-${process.pid}-abcdef`;
  await mkdir(path.join(tmpDir, own));
  await writeFile(path.join(tmpDir, 'qpc-report-notes'), 'not a copy folder');
  await mkdir(path.join(tmpDir, 'other-123-x'));

  const removed = await sweepReportTempDirs(tmpDir);
  t.same(removed.map((d) => path.basename(d)).sort(), [killed.dir, own].sort(), 'the killed process\'s and the previous life\'s folders');
  t.same((await readdir(tmpDir)).sort(), [live.dir, 'other-123-x', 'qpc-report-notes'].sort(), 'the live process\'s folder and other names stay');
  t.same(await sweepReportTempDirs(path.join(tmpDir, 'absent')), [], 'a missing folder sweeps nothing');
});
