/** @qpc/store/files: Report files: the downloaded reports in GridFS and their retention. */
export * from './report-files.ts';
export * from './report-retention.ts';
