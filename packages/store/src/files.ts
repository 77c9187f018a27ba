/** @qpc/store/files: Report files: the downloaded reports in GridFS and their retention. */
export * from './files/report-files.ts';
export * from './files/report-retention.ts';
