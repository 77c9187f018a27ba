/**
 * "Is this query served by an index?" On MongoDB: the winning plan has an IXSCAN and neither a COLLSCAN
 * nor a blocking SORT. FerretDB 1.24 (SQLite) uses no secondary index for filters (its explain says
 * SCAN, filterPushdown false), so there the check is the one MongoDB's planner would make: an index of
 * the collection (as created in the database) whose key is equality fields of the filter followed by
 * the sort key; for an $or, every branch has one.
 */
import type { Collection, Document, Filter } from 'mongodb';

type Key = Record<string, 1 | -1>;

function equalityFields(filter: Document): { eq: Set<string>; ors: Document[][]; range: Set<string> } {
  const eq = new Set<string>();
  const range = new Set<string>();
  const ors: Document[][] = [];
  const visit = (f: Document) => {
    for (const [k, v] of Object.entries(f)) {
      if (k === '$and') for (const p of v as Document[]) visit(p);
      else if (k === '$or') ors.push(v as Document[]);
      else if (v !== null && typeof v === 'object' && !(v instanceof Date) && Object.keys(v).some((o) => o.startsWith('$'))) {
        const ops = Object.keys(v);
        if (ops.every((o) => o === '$eq')) eq.add(k);
        else range.add(k);
      } else eq.add(k);
    }
  };
  visit(filter);
  return { eq, ors, range };
}

/** the index of `indexes` that serves filter + sort, or undefined */
export function servingIndex(indexes: Key[], filter: Document, sort: Key): Key | undefined {
  const { eq } = equalityFields(filter);
  const sortKeys = Object.entries(sort);
  return indexes.find((ix) => {
    const keys = Object.entries(ix);
    let i = 0;
    while (i < keys.length && eq.has(keys[i]![0])) i++;
    // with equality filters, the index must start with one of them (not merely walk the sort order)
    if (eq.size > 0 && i === 0) return false;
    const rest = keys.slice(i);
    if (rest.length < sortKeys.length) return false;
    // the whole index may be walked backwards
    const dir: 1 | -1 = rest[0]![1] === sortKeys[0]![1] ? 1 : -1;
    return sortKeys.every(([f, d], j) => rest[j]![0] === f && rest[j]![1] === d * dir);
  });
}

/** Branches of a top-level $or (possibly inside $and) each need an index on their field. */
export function orBranchesIndexed(indexes: Key[], filter: Document): boolean {
  const { ors } = equalityFields(filter);
  return ors.every((branches) => branches.every((b) => Object.keys(b).every((f) => indexes.some((ix) => Object.keys(ix)[0] === f))));
}

function planStages(plan: unknown, out: string[] = []): string[] {
  if (plan && typeof plan === 'object') {
    const p = plan as Record<string, unknown>;
    if (typeof p.stage === 'string') out.push(p.stage);
    for (const v of Object.values(p)) if (v && typeof v === 'object') planStages(v, out);
  }
  return out;
}

export interface IndexCheck {
  ok: boolean;
  how: string;
}

export async function checkServedByIndex(col: Collection<Document>, filter: Filter<Document>, sort: Key, limit = 51): Promise<IndexCheck> {
  const explain = (await col.find(filter).sort(sort).limit(limit).explain()) as Document;
  const ferret = Boolean((explain.serverInfo as Document | undefined)?.ferretdbVersion);
  if (!ferret) {
    const stages = planStages((explain.queryPlanner as Document).winningPlan);
    const ok = stages.includes('IXSCAN') && !stages.includes('COLLSCAN') && !stages.includes('SORT');
    return { ok, how: `mongodb plan: ${stages.join('>')}` };
  }
  const indexes = (await col.listIndexes().toArray()).map((i) => i.key as Key);
  const ix = servingIndex(indexes, filter, sort);
  const orsOk = orBranchesIndexed(indexes, filter);
  const { eq, ors } = equalityFields(filter);
  // with only an $or (no equality), the branches' indexes serve it
  const ok = (ix !== undefined || (eq.size === 0 && ors.length > 0)) && orsOk;
  return { ok, how: `ferretdb: index ${JSON.stringify(ix)} in the database` };
}
