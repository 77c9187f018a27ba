/**
 * Content hashes: what a re-sync compares instead of writing. A finding (or host) whose report-derived
 * fields hash the same as the stored document's, and whose status the report does not change, costs no
 * write and no statement of its own (on FerretDB 1.24 each statement reads the whole collection).
 */
import { createHash } from 'node:crypto';

/** JSON with object keys in sorted order: the same fields give the same text whatever their order. */
function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v ?? null);
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
    .join(',')}}`;
}

/** 16 hex chars (64 bits) of the SHA-1 of the fields in stable key order. */
export function contentHash(fields: Record<string, unknown>): string {
  return createHash('sha1').update(stableJson(fields)).digest('hex').slice(0, 16);
}

/** A finding key as 64 bits: the run's "seen" lists keep 8 bytes per finding, not a string. */
export function keyHash(key: string): bigint {
  return createHash('sha1').update(key).digest().readBigUInt64BE(0);
}

/** 64-bit hashes packed 8 bytes each (a batch's seen keys, stored as one binary field). */
export function packHashes(hashes: bigint[]): Buffer {
  const buf = Buffer.allocUnsafe(hashes.length * 8);
  hashes.forEach((h, i) => buf.writeBigUInt64BE(h, i * 8));
  return buf;
}

/** Many packed hash lists as one sorted array, for binary search (1M findings: 8 MB). */
export function sortedHashes(packed: Uint8Array[]): BigUint64Array {
  const n = packed.reduce((s, p) => s + p.length / 8, 0);
  const out = new BigUint64Array(n);
  let i = 0;
  for (const p of packed) {
    const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
    for (let o = 0; o < p.byteLength; o += 8) out[i++] = view.getBigUint64(o, false);
  }
  return out.sort();
}

export function hasHash(sorted: BigUint64Array, h: bigint): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid]!;
    if (v === h) return true;
    if (v < h) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
