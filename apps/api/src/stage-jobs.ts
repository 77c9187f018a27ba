import { stageJobs } from '@qpc/jobs';
import type { StageJobs } from '@qpc/store';
import type { ServerDeps } from './server.ts';

/** The pipeline's jobs by stage, over the API's queues (for the stuck-run checks). */
export function stageJobsOf(deps: Pick<ServerDeps, 'queues'>): StageJobs {
  return stageJobs((name) => deps.queues[name]);
}
