import t from 'tap';
import { Binary } from 'mongodb';
import { deflateRawSync } from 'node:zlib';
import { testMongo } from '@qpc/testing';
import { createStore, StoreError } from '../src/db.ts';
import { decodeBatchRecords, encodeBatchRecords, getBatch, stageBatch, type BatchDoc } from '../src/pipeline.ts';
import type { FindingRecord } from '@qpc/pc-report';
import { finding, host } from './fixtures.ts';

t.test('staged records survive encoding: nulls, lists, nested fields, text', async (t) => {
  const hosts = [host(1), { ...host(2), qualysHostId: null, tags: [], hostname: 'h\u00e9te <2> & "x"' }];
  const withException = { ...finding(hosts[0]!, '1', 'Passed'), exception: { status: 'Accepted', assignee: 'ops', endDate: '2026-12-31', createdBy: 'a', createdDate: null, modifiedBy: null, modifiedDate: null } } as FindingRecord;
  const findings = [withException, { ...finding(hosts[1]!, '2', 'Failed'), evaluationDate: null, exception: null, actual: 'line 1\nline\t2' } as FindingRecord];
  const back = decodeBatchRecords(encodeBatchRecords({ hosts, findings }));
  t.same(back, { hosts, findings }, 'decoded equal to what was encoded');
  t.strictSame(back.findings[1]!.exception, null, 'a null stays null');
});

t.test('a batch of 1,000 findings is stored in far fewer bytes than its JSON', async (t) => {
  const hs = Array.from({ length: 50 }, (_, i) => host(i));
  const fs = hs.flatMap((h) => Array.from({ length: 20 }, (_, c) => finding(h, String(c + 1), c % 3 === 0 ? 'Failed' : 'Passed')));
  const json = Buffer.byteLength(JSON.stringify({ hosts: hs, findings: fs }));
  const blob = encodeBatchRecords({ hosts: hs, findings: fs });
  t.ok(blob.length() * 4 < json, `blob ${blob.length()} bytes, JSON ${json} bytes`);
});

t.test('a damaged blob is a clear, permanent error', async (t) => {
  for (const [name, blob] of [
    ['not deflated', new Binary(Buffer.from('not a batch'))],
    ['deflated but not BSON', new Binary(deflateRawSync(Buffer.from('not bson at all')))],
    ['BSON without the lists', new Binary(deflateRawSync(Buffer.from([5, 0, 0, 0, 0])))],
  ] as const) {
    try {
      decodeBatchRecords(blob, 'batch 3 of run r1');
      t.fail(`${name}: decoded`);
    } catch (err) {
      t.ok(err instanceof StoreError && err.code === 'BATCH_UNREADABLE' && !err.retryable, `${name}: BATCH_UNREADABLE, not retryable`);
      t.match((err as Error).message, /^batch 3 of run r1 /, `${name}: says which batch: ${(err as Error).message}`);
    }
  }
});

t.test('a staged batch reads back its records, also one staged as arrays before the blob', async (t) => {
  const { db } = await testMongo(t);
  const store = createStore(db);
  const h = host(7);
  const fs = [finding(h, '1', 'Failed'), finding(h, '2', 'Passed')];
  await stageBatch(store, 'run-1', 0, [h], fs);
  const staged = await getBatch(store, 'run-1', 0);
  t.same([staged.hosts, staged.findings, staged.size], [[h], fs, { hosts: 1, findings: 2 }], 'the blob decoded');
  await store.col.batches.insertOne({ _id: 'run-1:1', runId: 'run-1', seq: 1, hosts: [h], findings: fs, createdAt: new Date(), done: null, failed: null } as unknown as BatchDoc);
  const legacy = await getBatch(store, 'run-1', 1);
  t.same([legacy.hosts, legacy.findings], [[h], fs], 'the arrays of an earlier version');
});
