import { jobPresence } from '@qpc/jobs';
import type { StageJobs } from '@qpc/store/pipeline';
import type { ServerDeps } from './server.ts';

/** Where the pipeline's jobs stand, over the API's queues (for the stuck-run checks). */
export function stageJobsOf(deps: Pick<ServerDeps, 'queues'>): Pick<StageJobs, 'presence'> {
  return { presence: jobPresence((name) => deps.queues[name]) };
}
