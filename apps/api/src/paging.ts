/**
 * Cursor paging on a unique, immutable sort key: `_id` alone, or (field, _id) where the field never
 * changes once written (createdAt, nameLower). A page is "everything after the last key seen", so
 * concurrent inserts and updates neither repeat nor skip a document that existed when paging began.
 * The cursor is opaque to clients (base64url JSON); a tampered one is a 400, not a 500.
 */
import type { Collection, Document, Filter, FindOptions, WithId } from 'mongodb';
import { badRequest } from './errors.ts';

export type CursorValue = string | number | null | { $date: string };

export function encodeCursor(values: CursorValue[]): string {
  return Buffer.from(JSON.stringify(values), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, arity: number): CursorValue[] {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('INVALID_CURSOR', 'cursor: not a cursor returned by this API');
  }
  if (!Array.isArray(v) || v.length !== arity) throw badRequest('INVALID_CURSOR', 'cursor: not a cursor returned by this API');
  return v as CursorValue[];
}

const toBson = (v: CursorValue): unknown => {
  if (v !== null && typeof v === 'object') {
    const d = new Date(v.$date);
    if (Number.isNaN(d.getTime())) throw badRequest('INVALID_CURSOR', 'cursor: not a cursor returned by this API');
    return d;
  }
  return v;
};

const fromBson = (v: unknown): CursorValue => {
  if (v instanceof Date) return { $date: v.toISOString() };
  if (typeof v === 'string' || typeof v === 'number' || v === null) return v;
  return String(v);
};

export interface SortKey {
  /** the sort field; `_id` is always the last key */
  field?: string;
  dir: 1 | -1;
}

export function sortOf(key: SortKey): Record<string, 1 | -1> {
  return key.field ? { [key.field]: key.dir, _id: key.dir } : { _id: key.dir };
}

/** The filter that selects documents after the cursor. */
export function afterCursor(key: SortKey, cursor: string | undefined): Filter<Document> | undefined {
  if (!cursor) return undefined;
  const op = key.dir === 1 ? '$gt' : '$lt';
  if (!key.field) {
    const [id] = decodeCursor(cursor, 1);
    if (typeof id !== 'string') throw badRequest('INVALID_CURSOR', 'cursor: not a cursor returned by this API');
    return { _id: { [op]: id } };
  }
  const [fv, id] = decodeCursor(cursor, 2);
  if (typeof id !== 'string') throw badRequest('INVALID_CURSOR', 'cursor: not a cursor returned by this API');
  const value = toBson(fv ?? null);
  return { $or: [{ [key.field]: { [op]: value } }, { [key.field]: value, _id: { [op]: id } }] };
}

export function cursorAfter(key: SortKey, doc: Document): string {
  return key.field ? encodeCursor([fromBson(doc[key.field]), fromBson(doc._id)]) : encodeCursor([fromBson(doc._id)]);
}

export interface Page<T> {
  items: T[];
  next: string | null;
}

/** A page request: the cursor of the previous page's `next` (none for the first page) and the page size. */
export interface PageQuery {
  cursor?: string | undefined;
  limit: number;
}

/**
 * One page of `col` in `key` order: the documents matching `where` after `query.cursor`, each mapped
 * to its item. Fetches limit+1 to know whether a next page exists without a count.
 */
export async function pageOf<D extends Document, T>(
  col: Collection<D>,
  key: SortKey,
  query: PageQuery,
  map: (d: WithId<D>) => T,
  where: Filter<Document> = {},
  options?: FindOptions,
): Promise<Page<T>> {
  const docs = await col
    .find(andAll([where, afterCursor(key, query.cursor)]) as Filter<D>, options)
    .sort(sortOf(key))
    .limit(query.limit + 1)
    .toArray();
  const more = docs.length > query.limit;
  const slice = more ? docs.slice(0, query.limit) : docs;
  const last = slice[slice.length - 1];
  return { items: slice.map(map), next: more && last ? cursorAfter(key, last) : null };
}

const isAndOnly = (p: Filter<Document>): p is { $and: Filter<Document>[] } =>
  Array.isArray(p.$and) && Object.keys(p).length === 1;

/** All parts (none: {}); a part that is itself only an $and is spliced in, so andAll nests flat. */
export function andAll(parts: (Filter<Document> | undefined)[]): Filter<Document> {
  const list = parts
    .filter((p): p is Filter<Document> => p !== undefined && Object.keys(p).length > 0)
    .flatMap((p) => (isAndOnly(p) ? p.$and : [p]));
  if (list.length === 0) return {};
  if (list.length === 1) return list[0]!;
  return { $and: list };
}
