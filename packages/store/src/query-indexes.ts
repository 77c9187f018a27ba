/**
 * Index specs the REST API's list and facet queries need (owned by the API; created by ensureIndexes()).
 */
import type { IndexSpec } from './index-spec.ts';

export const QUERY_INDEXES: IndexSpec[] = [];
