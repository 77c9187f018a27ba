export * from './logger.ts';
export * from './redis.ts';
export * from './shutdown.ts';
export * from './run-worker.ts';
export * from './heartbeat.ts';
export * from './worker-app.ts';
export * from './db-watch.ts';
