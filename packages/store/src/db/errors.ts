/** The store's error: a stable code; `retryable` says whether the job should be tried again. */
export class StoreError extends Error {
  constructor(
    readonly code:
      | 'RUN_NOT_FOUND'
      | 'RUN_STATE_CONFLICT'
      | 'RUN_SUPERSEDED'
      | 'SYNC_BUSY'
      | 'CONNECTOR_NOT_FOUND'
      | 'CONNECTOR_NAME_TAKEN'
      | 'PASSWORD_NOT_FOR_URL'
      | 'BATCH_NOT_FOUND'
      | 'BATCH_UNREADABLE'
      | 'REPORT_FILE_MISMATCH'
      | 'REPORT_FILE_MISSING'
      | 'REPORT_FILE_PURGED'
      | 'WRITE_CONFLICT'
      | 'HOST_MERGE_CONFLICT'
      | 'POSTURE_POLICY_NOT_VISIBLE'
      | 'POSTURE_NO_POLICY'
      | 'POSTURE_PAGING_UNREADABLE'
      | 'POSTURE_PAGE_MISSING'
      | 'POSTURE_PLAN_INVALID',
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}
