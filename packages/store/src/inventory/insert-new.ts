/**
 * Insert documents that are probably new; report which already exist instead of failing.
 *
 * A writer that knows most of its documents are new (a first sync) inserts them first and updates only
 * those the server refuses as duplicates (code 11000: the _id or a natural-key unique index). An insert
 * is checked by the unique indexes alone, while an upsert must first find its document, and on FerretDB
 * 1.24 every find reads the whole collection (its SQLite backend uses no index for filters), which made
 * a sync's cost grow with the square of the collection.
 */
import { MongoBulkWriteError, type Collection, type Document, type OptionalUnlessRequiredId } from 'mongodb';

export const DUPLICATE_KEY = 11000;

/** Inserts `docs` unordered; returns the indexes (into `docs`) of those that already exist. */
export async function insertNew<T extends Document>(col: Collection<T>, docs: OptionalUnlessRequiredId<T>[]): Promise<number[]> {
  if (docs.length === 0) return [];
  try {
    await col.insertMany(docs, { ordered: false });
    return [];
  } catch (err) {
    if (!(err instanceof MongoBulkWriteError) || err.writeConcernError) throw err;
    const errors = err.result.getWriteErrors();
    if (errors.length === 0 || errors.some((e) => e.code !== DUPLICATE_KEY)) throw err;
    return errors.map((e) => e.index);
  }
}
