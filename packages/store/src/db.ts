/** @qpc/store/db: The database handle and what every part of the store shares: connect, the db-mode seam, document shapes, errors, ids, indexes. */
export * from './db/store.ts';
export * from './db/db-mode.ts';
export * from './db/documents.ts';
export * from './db/errors.ts';
export * from './db/ids.ts';
export * from './db/index-spec.ts';
export * from './db/indexes.ts';
export * from './db/query-indexes.ts';
export * from './db/one-batch.ts';
export * from './db/statement-count.ts';
