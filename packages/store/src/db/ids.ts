import { createHash } from 'node:crypto';

/** A deterministic id from parts (24 hex chars): the same input always names the same document. */
export function stableId(...parts: string[]): string {
  return createHash('sha1').update(JSON.stringify(parts)).digest('hex').slice(0, 24);
}
