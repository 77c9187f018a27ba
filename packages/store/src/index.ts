export * from './documents.ts';
export * from './batch-doc.ts';
export * from './index-spec.ts';
export * from './indexes.ts';
export * from './query-indexes.ts';
export * from './store.ts';
