import type { ServerDeps } from '../server.ts';
import { connectorRoutes } from './connectors.ts';
import { findingRoutes } from './findings.ts';
import { hostRoutes } from './hosts.ts';
import type { RouteTable } from './registry.ts';
import { overviewRoutes } from './overview.ts';
import { runRoutes } from './runs.ts';
import { scheduleRoutes } from './schedules.ts';
import { sessionRoutes } from './session.ts';
import { urbaPreviewRoutes } from './urba-preview.ts';

export function apiRoutes(table: RouteTable, deps: ServerDeps) {
  sessionRoutes(table, deps);
  connectorRoutes(table, deps);
  scheduleRoutes(table, deps);
  runRoutes(table, deps);
  hostRoutes(table, deps);
  findingRoutes(table, deps);
  overviewRoutes(table, deps);
  urbaPreviewRoutes(table, deps);
}
