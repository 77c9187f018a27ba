/**
 * The stored state of a batch's findings, as a re-sync classifies them: _id (a finding re-keyed with its
 * host keeps its first one), content hash, status, and whether this run created it.
 *
 * mongodb mode: one keyed read per batch (an index lookup). ferretdb mode: every keyed read reads the whole
 * collection (find by key: 0.26/s at 50,000 findings), so the state of the whole network is read ONCE per
 * run and worker process by one streaming read and kept compact: sorted 64-bit key hashes and parallel
 * typed arrays (1M findings: ~30 MB), not a Map of strings. During a run the batches only insert new
 * findings (changes wait for finalize), so the snapshot stays true for the findings it holds; a finding
 * it does not hold is inserted, and one that exists after all (another write of the run) is refused by
 * the unique index and read back by key.
 */
import type { FindingStatus } from '@qpc/domain';
import type { Store } from '../db/store.ts';
import { keyHash } from './content-hash.ts';
import { ONE_BATCH } from '../db/one-batch.ts';

export interface StoredFinding {
  _id: string;
  contentHash: string | null;
  status: FindingStatus;
  /** created by the run that reads it (an earlier write of the same batch, or the finding twice in the report) */
  createdByRun: boolean;
}

const STATUS_CODES: FindingStatus[] = ['Open', 'Closed'];
const HEX24 = /^[0-9a-f]{24}$/;

interface Snapshot {
  runId: string;
  network: string;
  keys: BigUint64Array;
  hashes: BigUint64Array;
  /** bit 0: Closed, bit 1: created by the run, bit 2: no content hash stored */
  flags: Uint8Array;
  ids: Buffer;
  /** _ids that are not 24 hex chars (none written by this code), by index */
  oddIds: Map<number, string>;
}

/** Per process: the snapshots of the runs being written (a worker writes one or two runs at a time). */
const snapshots = new Map<string, Promise<Snapshot>>();
const KEEP = 2;

export async function storedFindings(store: Store, runId: string, network: string, findingKeys: string[]): Promise<Map<string, StoredFinding>> {
  if (store.mode === 'mongodb') return readByKeys(store, runId, network, findingKeys);
  const snap = await snapshotOf(store, runId, network);
  const out = new Map<string, StoredFinding>();
  for (const key of findingKeys) {
    const i = indexOf(snap.keys, keyHash(key));
    if (i < 0) continue;
    const f = snap.flags[i]!;
    out.set(key, {
      _id: snap.oddIds.get(i) ?? snap.ids.toString('hex', i * 12, i * 12 + 12),
      contentHash: f & 4 ? null : snap.hashes[i]!.toString(16).padStart(16, '0'),
      status: STATUS_CODES[f & 1]!,
      createdByRun: (f & 2) !== 0,
    });
  }
  return out;
}

/** Keyed read of some findings (mongodb mode for every batch; ferretdb mode for a refused insert). */
export async function readByKeys(store: Store, runId: string, network: string, findingKeys: string[]): Promise<Map<string, StoredFinding>> {
  if (findingKeys.length === 0) return new Map();
  const docs = await store.col.findings
    .find({ network, findingKey: { $in: findingKeys } }, { batchSize: ONE_BATCH, projection: { _id: 1, findingKey: 1, contentHash: 1, status: 1, firstSeenRunId: 1 } })
    .toArray();
  return new Map(docs.map((d) => [d.findingKey, { _id: d._id, contentHash: d.contentHash ?? null, status: d.status, createdByRun: d.firstSeenRunId === runId }]));
}

/** Drop a run's snapshot (the run ended, or a test wants a fresh read). */
export function forgetSnapshot(runId: string): void {
  snapshots.delete(runId);
}

function snapshotOf(store: Store, runId: string, network: string): Promise<Snapshot> {
  let p = snapshots.get(runId);
  if (!p) {
    p = loadSnapshot(store, runId, network);
    p.catch(() => snapshots.delete(runId));
    snapshots.set(runId, p);
    while (snapshots.size > KEEP) snapshots.delete(snapshots.keys().next().value as string);
  }
  return p;
}

async function loadSnapshot(store: Store, runId: string, network: string): Promise<Snapshot> {
  let cap = 4096;
  let n = 0;
  let keys = new BigUint64Array(cap);
  let hashes = new BigUint64Array(cap);
  let flags = new Uint8Array(cap);
  let ids = Buffer.alloc(cap * 12);
  const oddIds = new Map<number, string>();
  // streamed in batches of 10,000 (a drained-at-once read of 1M findings would not fit the heap); nothing
  // else is written by this process while the cursor is open
  const cursor = store.col.findings.find({ network }, { batchSize: 10_000, projection: { _id: 1, findingKey: 1, contentHash: 1, status: 1, firstSeenRunId: 1 } });
  for await (const d of cursor) {
    if (n === cap) {
      cap *= 2;
      keys = grow(keys, cap);
      hashes = grow(hashes, cap);
      const f = new Uint8Array(cap);
      f.set(flags);
      flags = f;
      const b = Buffer.alloc(cap * 12);
      ids.copy(b);
      ids = b;
    }
    keys[n] = keyHash(d.findingKey);
    const hasHash = typeof d.contentHash === 'string' && /^[0-9a-f]{16}$/.test(d.contentHash);
    hashes[n] = hasHash ? BigInt(`0x${d.contentHash}`) : 0n;
    flags[n] = (d.status === 'Closed' ? 1 : 0) | (d.firstSeenRunId === runId ? 2 : 0) | (hasHash ? 0 : 4);
    if (HEX24.test(d._id)) ids.write(d._id, n * 12, 'hex');
    else oddIds.set(n, d._id);
    n++;
  }
  // sorted by key hash, the other arrays in the same order
  const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : 0));
  const snap: Snapshot = { runId, network, keys: new BigUint64Array(n), hashes: new BigUint64Array(n), flags: new Uint8Array(n), ids: Buffer.alloc(n * 12), oddIds: new Map() };
  order.forEach((from, to) => {
    snap.keys[to] = keys[from]!;
    snap.hashes[to] = hashes[from]!;
    snap.flags[to] = flags[from]!;
    ids.copy(snap.ids, to * 12, from * 12, from * 12 + 12);
    const odd = oddIds.get(from);
    if (odd !== undefined) snap.oddIds.set(to, odd);
  });
  return snap;
}

function grow(a: BigUint64Array, cap: number): BigUint64Array<ArrayBuffer> {
  const b = new BigUint64Array(cap);
  b.set(a);
  return b;
}

function indexOf(sorted: BigUint64Array, h: bigint): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid]!;
    if (v === h) return mid;
    if (v < h) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
