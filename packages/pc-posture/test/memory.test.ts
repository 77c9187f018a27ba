/**
 * Bounded memory: a large answer streamed in chunks is parsed with its rows staged on disk, so the
 * resident memory does not follow the size of the answer. Also: any chunking gives the same records.
 */
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parsePosture, parsePostureToArray } from '../src/parse-posture.ts';
import type { PostureSummaryRecord } from '../src/records.ts';
import { answer, chunks, glossary, row, type Answer } from './build.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'qpc-posture-memory-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

const HOSTS = 2000;
const CONTROLS = 50;
const gloss: Omit<Answer, 'rows'> = {
  hosts: Array.from({ length: HOSTS }, (_, h) => ({ id: String(90000 + h), ip: `10.0.${h >> 8}.${h & 255}`, dns: `srv${h}.example.com`, os: 'Windows Server 2019' })),
  controls: Array.from({ length: CONTROLS }, (_, c) => ({ id: String(1000 + c), statement: `Status of setting ${c} — ünïcode`, label: 'SERIOUS', value: '3' })),
  techs: [['91', 'Windows Server 2019']],
  fvs: Array.from({ length: CONTROLS }, (_, c): [string, string] => [`#fv_${c}`, `expected value ${c}`]),
};

/** an answer of `n` rows, made as it is read (the test never holds it whole) */
async function* bigAnswer(n: number): AsyncGenerator<Buffer> {
  yield Buffer.from('<?xml version="1.0" encoding="UTF-8" ?>\n<POSTURE_INFO_LIST_OUTPUT><RESPONSE><INFO_LIST>\n');
  let parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % CONTROLS;
    parts.push(row({ id: String(i + 1), hostId: String(90000 + (Math.floor(i / CONTROLS) % HOSTS)), controlId: String(1000 + c), techId: '91', instance: 'os', status: i % 3 ? 'Passed' : 'Failed', policyId: '1234', evaluated: '2026-11-20T09:00:00Z', remediation: 'Set the value through Group Policy and verify it on the next scan, then document the change.', expr: `#fv_${c}`, dpvs: [[':dp_1', `actual ${i}`]] }, true));
    if (parts.length === 500) {
      yield Buffer.from(parts.join(''));
      parts = [];
    }
  }
  parts.push(`</INFO_LIST>\n${glossary(gloss)}</RESPONSE></POSTURE_INFO_LIST_OUTPUT>\n`);
  yield Buffer.from(parts.join(''));
}

/** child mode: parse `n` rows under the heap cap the parent gives, print the figures as JSON */
async function child(n: number): Promise<void> {
  let peak = process.memoryUsage().rss;
  let findings = 0;
  let staged = false;
  let summary: PostureSummaryRecord | null = null;
  for await (const batch of parsePosture(bigAnswer(n), { tmpDir: tmp })) {
    staged ||= readdirSync(tmp).length === 1;
    for (const r of batch) {
      if (r.type === 'finding') findings++;
      else if (r.type === 'summary') summary = r;
    }
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  process.stdout.write(`${JSON.stringify({ findings, bytes: summary?.bytes ?? 0, peakMb: peak / 2 ** 20, staged, left: readdirSync(tmp).length })}\n`);
}

const childAt = process.argv.indexOf('--child');
if (childAt !== -1) {
  await child(Number(process.argv[childAt + 1]));
  process.exit(0);
}

t.test('a large answer is parsed with flat memory: a heap cap half its size is enough', async (t) => {
  const n = Number(process.env.QPC_TEST_POSTURE_ROWS ?? 200_000);
  const heapMb = 64;
  // 48 MB ran out of memory in the UTF-8 decoder in some runs (V8 needs a margin; the parse holds no more at 64)
  const r = spawnSync(process.execPath, [`--max-old-space-size=${heapMb}`, '--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(n)], { encoding: 'utf8' });
  t.equal(r.status, 0, `the child parsed under a ${heapMb} MB heap cap${r.status === 0 ? '' : `: ${r.stderr.slice(-400)}`}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as { findings: number; bytes: number; peakMb: number; staged: boolean; left: number };
  const mb = out.bytes / 2 ** 20;
  t.comment(`answer ${mb.toFixed(0)} MB, ${n} rows, V8 old space capped at ${heapMb} MB: peak RSS ${out.peakMb?.toFixed(0)} MB`);
  t.equal(out.findings, n);
  t.ok(mb > 1.8 * heapMb, `the answer (${mb.toFixed(0)} MB) is about twice the heap cap`);
  t.ok(out.staged, 'rows were staged in a temporary folder');
  t.equal(out.left, 0, 'and the folder is gone at the end');
});

t.test('rows come back in order and whole across the memory blocks and the file', async (t) => {
  const n = 40_000;
  const actual: (string | null)[] = [];
  let spilled = false;
  for await (const batch of parsePosture(bigAnswer(n), { tmpDir: tmp })) {
    spilled ||= readdirSync(tmp).length === 1;
    for (const r of batch) if (r.type === 'finding') actual.push(r.actual);
  }
  t.ok(spilled, 'the stage wrote a file (the rows are more than its memory blocks)');
  t.equal(actual.length, n);
  const wrong = actual.findIndex((a, i) => a !== `actual ${i}`);
  t.equal(wrong, -1, 'every row in its place, with its own values');
});

t.test('any chunking gives the same records (multibyte characters split across chunks)', async (t) => {
  const xml = answer({ ...gloss, hosts: gloss.hosts!.slice(0, 3), rows: [0, 1, 2, 3].map((i) => ({ id: String(i), hostId: String(90000 + (i % 3)), controlId: String(1000 + i), techId: '91', instance: 'os', status: 'Failed', policyId: '1', expr: `#fv_${i}`, dpvs: [[':dp_1', 'Zürich 東京']] })) });
  const whole = await parsePostureToArray(chunks(xml, 1 << 20), { tmpDir: tmp });
  t.equal(whole.filter((r) => r.type === 'finding').length, 4);
  t.match(whole.find((r) => r.type === 'finding'), { statement: 'Status of setting 0 — ünïcode', actual: 'Zürich 東京' });
  for (const size of [1, 2, 3, 5, 64]) t.same(await parsePostureToArray(chunks(xml, size), { tmpDir: tmp }), whole, `chunks of ${size} bytes`);
});
