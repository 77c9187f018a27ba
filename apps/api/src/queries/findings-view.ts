/**
 * FerretDB mode only (the db-mode seam): the Host Findings list and its facet counts served from a
 * snapshot of the findings' list fields held in the API's memory, rebuilt by one streaming read when
 * the inventory's version changes.
 *
 * Measured on FerretDB 1.24 (PostgreSQL backend) at 20,000 findings, the machine shared by other test
 * runs: a sorted page of 50 read and sorted every document in FerretDB (6.5-29 s), a `$group` or a
 * count read them all too (10-32 s), while `find({}).limit(51)` without a sort took 26-68 ms. No index
 * serves a filter or a sort there, so every list or facet request costs a full read. The snapshot pays
 * that read once per change of the data instead of once per request.
 *
 * The version: every write to findings happens inside a run (upsert batches bump the run's progress,
 * finalize its state) or deletes a connector (purge), so the newest run update, the number of runs and
 * the connectors' ids and update times change whenever findings can have. It is read per request from
 * the runs and connectors collections (small next to findings). A snapshot older than MAX_AGE_MS is
 * read again in the background (it answers meanwhile), and a changed one is rebuilt in the background
 * once no run is in progress.
 *
 * Rows keep their live parts: last seen comes from the assessments as on MongoDB (findings.ts).
 * Collections larger than 200,000 findings (ServerDeps.findingsViewMax) are not held: those requests
 * take the live queries.
 */
import type { FindingDoc, Store } from '@qpc/store/db';
import { FINDING_FILTER_FIELDS } from '@qpc/store/db';

export const DEFAULT_VIEW_MAX = 200_000;
const MAX_AGE_MS = 5 * 60_000;
const WARM_EVERY_MS = 5000;

/** The fields the list item and the facets need (history for the last status change). */
export const VIEW_PROJECTION = {
  network: 1, hostId: 1, hostKey: 1, ip: 1, hostname: 1, policyId: 1, controlId: 1, title: 1, instance: 1, testStatus: 1,
  status: 1, severity: 1, technology: 1, expected: 1, actual: 1, scanner: 1, tags: 1, lastSeen: 1, history: 1, firstSeen: 1,
} as const;

export type ViewDoc = Pick<FindingDoc, '_id' | keyof typeof VIEW_PROJECTION>;

export interface FindingsSnapshot {
  version: string;
  builtAt: number;
  /** sorted by _id */
  docs: ViewDoc[];
}

const TERMINAL = new Set(['succeeded', 'no-new-report', 'partial', 'failed']);

async function inventoryVersion(store: Store): Promise<{ version: string; running: boolean }> {
  const [runs, connectors] = await Promise.all([
    store.col.runs.find({}, { projection: { _id: 0, updatedAt: 1, state: 1 } }).toArray(),
    store.col.connectors.find({}, { projection: { _id: 1, updatedAt: 1 } }).toArray(),
  ]);
  let newest = 0;
  let running = false;
  for (const r of runs) {
    newest = Math.max(newest, r.updatedAt instanceof Date ? r.updatedAt.getTime() : 0);
    if (r.state !== undefined && !TERMINAL.has(r.state)) running = true;
  }
  const conn = connectors
    .map((c) => `${c._id}@${c.updatedAt instanceof Date ? c.updatedAt.getTime() : 0}`)
    .sort()
    .join(',');
  return { version: `${runs.length}:${newest}|${conn}`, running };
}

export class FindingsView {
  private snap: FindingsSnapshot | null = null;
  private building: { version: string; done: Promise<FindingsSnapshot | null> } | null = null;
  /** the version whose collection exceeded the cap (live queries until the version changes) */
  private tooBig: string | null = null;

  constructor(
    private readonly store: Store,
    private readonly max = DEFAULT_VIEW_MAX,
  ) {}

  private timer: NodeJS.Timeout | null = null;

  /** The current snapshot, or null: not FerretDB mode, or too many findings to hold. */
  async current(): Promise<FindingsSnapshot | null> {
    if (this.store.mode !== 'ferretdb') return null;
    this.keepWarm();
    const { version } = await inventoryVersion(this.store);
    return this.at(version);
  }

  /**
   * Once in use, the snapshot is rebuilt in the background when the data changed and no run is in
   * progress (a run that ends changes the version once more), so the first visit after a sync seldom
   * waits for the read. Stops when the database is gone (a closed client).
   */
  private keepWarm() {
    if (this.timer) return;
    this.timer = setInterval(() => {
      inventoryVersion(this.store)
        .then(({ version, running }) => {
          if (!running && this.snap?.version !== version && this.building?.version !== version) return this.at(version);
          return null;
        })
        .catch(() => {
          if (this.timer) clearInterval(this.timer);
        });
    }, WARM_EVERY_MS);
    this.timer.unref();
  }

  private async at(version: string): Promise<FindingsSnapshot | null> {
    if (this.tooBig === version) return null;
    if (this.snap && this.snap.version === version) {
      // an old snapshot of the same version still answers; a fresh read replaces it in the background
      if (Date.now() - this.snap.builtAt >= MAX_AGE_MS && !this.building) this.start(version).catch(() => undefined);
      return this.snap;
    }
    if (this.building?.version === version) return this.building.done;
    return this.start(version);
  }

  private start(version: string): Promise<FindingsSnapshot | null> {
    const done = this.build(version).finally(() => {
      if (this.building?.done === done) this.building = null;
    });
    this.building = { version, done };
    return done;
  }

  private async build(version: string): Promise<FindingsSnapshot | null> {
    const docs: ViewDoc[] = [];
    const cursor = this.store.col.findings.find({}, { projection: VIEW_PROJECTION, batchSize: 2000 });
    for await (const d of cursor) {
      docs.push(d as ViewDoc);
      if (docs.length > this.max) {
        await cursor.close();
        this.tooBig = version;
        return null;
      }
    }
    docs.sort((a, b) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));
    const snap = { version, builtAt: Date.now(), docs };
    this.snap = snap;
    return snap;
  }
}

const views = new WeakMap<Store, FindingsView>();

/** The one view of a store (the findings and hosts routes share it). */
export function findingsViewOf(store: Store, max?: number): FindingsView {
  let v = views.get(store);
  if (!v) views.set(store, (v = new FindingsView(store, max)));
  return v;
}

/**
 * Open findings by severity (missing severity: "Unset") of each host given: one aggregation for a
 * whole page of hosts on MongoDB, the snapshot on FerretDB.
 */
export async function openBySeverityOf(store: Store, view: FindingsView, hostIds: string[]): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>(hostIds.map((id) => [id, {}]));
  if (hostIds.length === 0) return out;
  const add = (hostId: string, severity: string | null | undefined, n: number) => {
    const m = out.get(hostId);
    if (m) m[severity ?? 'Unset'] = (m[severity ?? 'Unset'] ?? 0) + n;
  };
  const snap = await view.current();
  if (snap) {
    for (const d of snap.docs) if (d.status === 'Open' && out.has(d.hostId)) add(d.hostId, d.severity, 1);
    return out;
  }
  const groups = await store.col.findings
    .aggregate<{ _id: { hostId: string; severity: string | null }; n: number }>([
      { $match: { hostId: { $in: hostIds }, status: 'Open' } },
      { $group: { _id: { hostId: '$hostId', severity: '$severity' }, n: { $sum: 1 } } },
    ])
    .toArray();
  for (const g of groups) add(g._id.hostId, g._id.severity, g.n);
  return out;
}

/** A document's value for a filter (tags: the array). */
export const fieldOf = (d: Partial<Record<string, unknown>>, f: keyof typeof FINDING_FILTER_FIELDS) => d[FINDING_FILTER_FIELDS[f]];
