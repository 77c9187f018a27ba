import type { Db } from 'mongodb';
import { COLLECTIONS, TERMINAL_RUN_STATES } from '@qpc/store/db';
import type { RunTotals } from '../metrics.ts';

type Num = number | null | undefined;
interface RunCounters {
  state: string;
  connectorId?: string;
  counts?: Partial<Record<'findingsCreated' | 'findingsUpdated' | 'findingsClosed' | 'findingsReopened' | 'urbaClosed' | 'hostsCreated' | 'hostsUpdated', Num>>;
  qualys?: { calls?: Num; conflicts409?: Num; waitedSec?: Num };
}

const ENDED = new Set<string>(TERMINAL_RUN_STATES);
const n = (v: Num) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * Totals over every run record. Summed here from a narrow projection rather than by $group:
 * FerretDB 1.24 computes only the first accumulator of a $group (the others come back 0), and a
 * run record is one per pull, so the scan stays small.
 */
export async function runTotalsFromDb(db: Db): Promise<RunTotals> {
  const t: RunTotals = {
    byState: {},
    endedByConnector: {},
    findingsCreated: 0,
    findingsUpdated: 0,
    findingsClosed: 0,
    findingsReopened: 0,
    urbaClosed: 0,
    hostsWritten: 0,
    qualysCalls: 0,
    qualys409: 0,
    qualysWaitSeconds: 0,
  };
  const cursor = db
    .collection<RunCounters>(COLLECTIONS.runs)
    .find({}, { projection: { _id: 0, state: 1, connectorId: 1, counts: 1, qualys: 1 }, batchSize: 1000 });
  for await (const r of cursor) {
    const c = r.counts ?? {};
    const q = r.qualys ?? {};
    t.byState[String(r.state)] = (t.byState[String(r.state)] ?? 0) + 1;
    if (r.connectorId && ENDED.has(String(r.state))) {
      const per = (t.endedByConnector[r.connectorId] ??= {});
      per[String(r.state)] = (per[String(r.state)] ?? 0) + 1;
    }
    t.findingsCreated += n(c.findingsCreated);
    t.findingsUpdated += n(c.findingsUpdated);
    t.findingsClosed += n(c.findingsClosed);
    t.findingsReopened += n(c.findingsReopened);
    t.urbaClosed += n(c.urbaClosed);
    t.hostsWritten += n(c.hostsCreated) + n(c.hostsUpdated);
    t.qualysCalls += n(q.calls);
    t.qualys409 += n(q.conflicts409);
    t.qualysWaitSeconds += n(q.waitedSec);
  }
  return t;
}
