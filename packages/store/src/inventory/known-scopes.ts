/**
 * ferretdb mode: the hosts and host x policy assessments of a network that the write worker knows exist,
 * read once per run and process (one streaming read each, small projections) and kept up to date with
 * what this process inserts. FerretDB 1.24 answers an insertMany that meets one existing document by
 * inserting the documents again one by one, each in its own transaction: 51 documents with one duplicate
 * took 5.9 s where 50 new ones took 0.13 s (PostgreSQL backend, loaded machine), and a re-sync meets
 * every host and assessment again. Knowing which exist, a batch inserts only new ones. A race with
 * another writer still ends in that one-by-one path, which is slow but correct.
 */
import type { Store } from '../db/store.ts';

export interface KnownHost {
  _id: string;
  contentHash?: string;
  sources?: string[];
}

export interface KnownScopes {
  /** by hostKey */
  hosts: Map<string, KnownHost>;
  /** assessment _ids */
  assessments: Set<string>;

}

const known = new Map<string, Promise<KnownScopes>>();
const KEEP = 2;

export function knownScopes(store: Store, runId: string, network: string): Promise<KnownScopes> {
  let p = known.get(runId);
  if (!p) {
    p = load(store, network);
    p.catch(() => known.delete(runId));
    known.set(runId, p);
    while (known.size > KEEP) known.delete(known.keys().next().value as string);
  }
  return p;
}

export function forgetKnownScopes(runId: string): void {
  known.delete(runId);
}

async function load(store: Store, network: string): Promise<KnownScopes> {
  const out: KnownScopes = { hosts: new Map(), assessments: new Set() };
  for await (const h of store.col.hosts.find({ network }, { batchSize: 10_000, projection: { _id: 1, hostKey: 1, contentHash: 1, sources: 1 } })) {
    out.hosts.set(h.hostKey, { _id: h._id, contentHash: h.contentHash, sources: h.sources });
  }
  for await (const a of store.col.assessments.find({ network }, { batchSize: 10_000, projection: { _id: 1 } })) out.assessments.add(a._id);
  return out;
}
