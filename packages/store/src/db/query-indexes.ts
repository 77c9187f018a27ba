/**
 * Index specs the REST API's list and facet queries need (owned by the API; created by ensureIndexes()).
 *
 * Every list is paged on a unique key: `_id` (hosts, findings) or (createdAt, _id) newest first (runs).
 * So each filter gets an index whose key is the filter's field followed by the sort key: MongoDB then
 * walks the index in order, reads only matching documents and stops at the page size, with no
 * in-memory sort. A query with several filters uses one of these (the planner picks the most
 * selective) and checks the others on the fetched documents. The connectors list is paged on
 * nameLower, served by the pipeline's unique name index.
 *
 * FerretDB 1.24 (SQLite backend) uses no secondary index for a filter; these matter on MongoDB.
 */
import { COLLECTIONS as C } from './documents.ts';
import type { IndexSpec } from './index-spec.ts';

/** findings: API filter name -> document field */
export const FINDING_FILTER_FIELDS = {
  testStatus: 'testStatus',
  technology: 'technology',
  expectedResult: 'expected',
  actualResult: 'actual',
  scanner: 'scanner',
  network: 'network',
  severity: 'severity',
  status: 'status',
  policyId: 'policyId',
  controlId: 'controlId',
  host: 'hostId',
  tag: 'tags',
} as const;

/** hosts: API filter name -> document field (q searches ip and hostname by prefix) */
export const HOST_FILTER_FIELDS = {
  network: 'network',
  scanner: 'sources',
  tag: 'tags',
  ip: 'ip',
  hostname: 'hostname',
} as const;

const byId = (collection: string, field: string): IndexSpec => ({
  collection,
  key: { [field]: 1, _id: 1 },
  name: `api_${collection}_${field}_id`,
});

export const QUERY_INDEXES: IndexSpec[] = [
  ...Object.values(FINDING_FILTER_FIELDS).map((f) => byId(C.findings, f)),
  ...Object.values(HOST_FILTER_FIELDS).map((f) => byId(C.hosts, f)),
  { collection: C.runs, key: { createdAt: -1, _id: -1 }, name: 'api_runs_newest' },
  { collection: C.runs, key: { state: 1, createdAt: -1, _id: -1 }, name: 'api_runs_state_newest' },
  { collection: C.runs, key: { connectorId: 1, createdAt: -1, _id: -1 }, name: 'api_runs_connector_newest' },
  { collection: C.runs, key: { connectorId: 1, state: 1, createdAt: -1, _id: -1 }, name: 'api_runs_connector_state_newest' },
];
