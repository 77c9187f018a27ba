/**
 * Backpressure: the parser does not pull the next chunk while a full batch waits for its consumer, so
 * the input read stays bounded ahead of the records consumed, whatever the size of the report.
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseReport } from '../src/parse-report.ts';

const CONTROLS = 10;
function hostBlock(i: number): string {
  let s = `<HOST><IP>10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}</IP><QG_HOSTID>${i}</QG_HOSTID><CONTROL_LIST>`;
  for (let c = 0; c < CONTROLS; c++) {
    s += `<CONTROL><CID>${1000 + c}</CID><STATEMENT><![CDATA[Statement ${c} of a control, long enough to look real]]></STATEMENT><CRITICALITY><LABEL>SERIOUS</LABEL><VALUE>3</VALUE></CRITICALITY><TECHNOLOGY><ID>1</ID><NAME>Tech</NAME></TECHNOLOGY><INSTANCE>os</INSTANCE><STATUS>${c % 3 ? 'Passed' : 'Failed'}</STATUS></CONTROL>\n`;
  }
  return `${s}</CONTROL_LIST></HOST>\n`;
}

/** A report of `hosts` hosts, generated lazily in `chunkBytes` chunks, counting the chunks pulled. */
function source(hosts: number, chunkBytes: number) {
  const state = { pulled: 0, bytes: 0 };
  async function* gen(): AsyncGenerator<Buffer> {
    let pending = Buffer.from('<COMPLIANCE_POLICY_REPORT><RESULTS><POLICY><ID>1</ID><HOST_LIST>\n');
    const emit = function* () {
      while (pending.length >= chunkBytes) {
        state.pulled++;
        state.bytes += chunkBytes;
        yield pending.subarray(0, chunkBytes);
        pending = pending.subarray(chunkBytes);
      }
    };
    for (let i = 0; i < hosts; i++) {
      pending = Buffer.concat([pending, Buffer.from(hostBlock(i))]);
      yield* emit();
    }
    pending = Buffer.concat([pending, Buffer.from('</HOST_LIST></POLICY></RESULTS></COMPLIANCE_POLICY_REPORT>\n')]);
    yield* emit();
    if (pending.length) {
      state.pulled++;
      yield pending;
    }
  }
  return { state, gen: gen() };
}

t.test('no chunk is pulled while a full batch waits', async (t) => {
  const { state, gen } = source(2000, 8 * 1024);
  const it = parseReport(gen, { batchSize: 100 })[Symbol.asyncIterator]();
  const first = await it.next();
  t.equal(first.value?.length, 100);
  const pulled = state.pulled;
  t.ok(pulled <= 8, `a handful of chunks for the first batch (${pulled})`);
  await sleep(50);
  t.equal(state.pulled, pulled, 'nothing read while the consumer holds the batch');
  await it.return?.();
});

t.test('a slow consumer of a large report: chunks pulled stay bounded ahead of the records consumed', async (t) => {
  const hosts = 12000; // ~ 35 MB, 132k records
  const chunkBytes = 16 * 1024;
  const batchSize = 500;
  const { state, gen } = source(hosts, chunkBytes);
  const blockBytes = Buffer.byteLength(hostBlock(hosts - 1));
  const minRecordsPerChunk = (Math.floor(chunkBytes / blockBytes) - 1) * (CONTROLS + 1);
  t.ok(minRecordsPerChunk >= 11, `every chunk holds at least ${minRecordsPerChunk} records`);
  let consumed = 0;
  let batches = 0;
  let worstAhead = 0;
  for await (const batch of parseReport(gen, { batchSize })) {
    if (batch.length > batchSize) t.fail(`a batch of ${batch.length} records`);
    consumed += batch.length;
    batches++;
    // chunks pulled beyond those needed for what has been handed over (plus the batch being built)
    const needed = Math.ceil((consumed + batchSize) / minRecordsPerChunk) + 2;
    worstAhead = Math.max(worstAhead, state.pulled - needed);
    if (batches % 20 === 0) {
      await sleep(1); // a slow consumer
    } else {
      await new Promise((r) => setImmediate(r));
    }
  }
  t.equal(consumed, 1 + 1 + hosts * (CONTROLS + 1) + 1, 'header, policy, hosts, findings, summary');
  t.ok(worstAhead <= 0, `never more chunks pulled than the records handed over need (worst ${worstAhead})`);
  t.ok(state.bytes > 30e6, `a large input (${Math.round(state.bytes / 1e6)} MB)`);
});

t.test('batches hold at most batchSize records, and exactly batchSize but the last', async (t) => {
  const { gen } = source(300, 3000);
  const sizes: number[] = [];
  for await (const b of parseReport(gen, { batchSize: 64 })) sizes.push(b.length);
  t.ok(sizes.slice(0, -1).every((n) => n === 64));
  t.ok(sizes.at(-1)! >= 1 && sizes.at(-1)! <= 64);
  t.equal(sizes.reduce((a, b) => a + b, 0), 3 + 300 * (CONTROLS + 1));
});
