/**
 * Deterministic randomness, never Math.random.
 *
 * The generator needs random ACCESS, not a sequence: the by-control layout visits results in another
 * order than by-host, the SUMMARY counts are computed in a pass before the body, and mutations decide
 * per result. So every decision is a counter-based hash of (seed, coordinates): the murmur3 finalizer
 * over the combined integers. `mulberry32` is kept for the few sequential draws (launch ids, samples).
 */

/** murmur3 fmix32 of a combined with b: a well-mixed unsigned 32-bit integer. */
export function mix(a: number, b: number): number {
  let h = (a ^ Math.imul(b + 0x7f4a7c15, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** hash of several integers, unsigned 32 bits */
export function hash(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) h = mix(h, p);
  return h;
}

/** a hash mapped to [0, 1) */
export function unit(h: number): number {
  return h / 4294967296;
}

/** A small seeded sequential PRNG (mulberry32), for sequential draws only. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** a 32-bit number from any string (report ids in ETags and salts) */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
