export * from './sync.service.ts';
export * from './fetch.service.ts';
export * from './processors.ts';
