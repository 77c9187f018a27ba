export * from './mapping.ts';
export * from './selection.ts';
export * from './lifecycle.ts';
export * from './urba.ts';
export * from './schedule.ts';
export * from './freshness.ts';
export * from './source.ts';
