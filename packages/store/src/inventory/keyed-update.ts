/**
 * One bulk-write statement updating the single document a unique key names.
 *
 * Sent as `updateMany`, never `updateOne`. FerretDB 1.24 (the MongoDB-wire server of tests, CI and the
 * demo) keeps the result set of every matching `updateOne` statement open, with the pooled database
 * connection under it, until the whole update command ends. A bulk with more matching statements than
 * the pool holds (100 connections on SQLite, 50 on PostgreSQL) then waits for a connection forever and
 * the database stops answering. A multi update reads its result set to the end, which releases the
 * connection. On MongoDB both are the same here: the filter names a unique key, so at most one document
 * matches, and an upsert inserts one document either way.
 */
import type { AnyBulkWriteOperation, Document, Filter, UpdateFilter } from 'mongodb';

export function keyedUpdate<T extends Document>(filter: Filter<T>, update: UpdateFilter<T>, opts: { upsert?: boolean } = {}): AnyBulkWriteOperation<T> {
  return { updateMany: { filter, update, upsert: opts.upsert ?? false } };
}
