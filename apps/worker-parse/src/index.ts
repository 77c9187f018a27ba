export * from './parse.service.ts';
export * from './processors.ts';
