import { randomUUID } from 'node:crypto';
import { generateReport, reportSpec } from '@qpc/qualys-sim';
import type { Store } from '@qpc/store/db';
import { createRun } from '@qpc/store/pipeline';
import { reportFileId, saveReportFile } from '@qpc/store/files';

/** A run in state `parsing` whose generated report (`hosts` x `controls`, one policy) is stored in GridFS. */
export async function parsingRun(store: Store, size: { hosts: number; controls: number } = { hosts: 12, controls: 5 }): Promise<string> {
  const runId = randomUUID();
  await createRun(store, { _id: runId, connectorId: 'c1', syncId: runId, trigger: 'on-demand', network: 'net-rerun', index: 0, report: { id: '801', title: 'QPC-T', launchedAt: null }, state: 'queued' });
  const spec = reportSpec({ id: '801', title: 'QPC-T', seed: 801, size: { ...size, instancesPerControl: 1, policies: 1 } });
  const file = await saveReportFile(store, reportFileId(runId), generateReport(spec));
  await store.col.runs.updateOne({ _id: runId }, { $set: { file: { ...file, etag: null }, state: 'parsing' } });
  return runId;
}
