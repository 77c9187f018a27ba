export * from './upsert.service.ts';
export * from './finalize.service.ts';
export * from './processors.ts';
