/**
 * The one seam between MongoDB and FerretDB 1.24, chosen once at connect. The same documents and the
 * same guarantees either way; only the shape of the statements differs:
 *
 * - `mongodb`: per batch, one keyed read of the batch's findings; status and content changes applied as
 *   keyed updates (index lookups on MongoDB) in bulks of QPC_DB_BULK_SIZE.
 * - `ferretdb`: FerretDB 1.24 uses no index for any filter, so every statement reads the whole
 *   collection (updateOne by key: 0.4/s at 50,000 findings; updateMany of 500 ids: over 90 s, it writes
 *   the matched documents one by one). The current state of findings, hosts and assessments comes from
 *   one streaming read per run and worker (finding-state.ts, known-scopes.ts); finalize reads the changed
 *   and the URBA-closed documents with one streaming read and rewrites them as journaled deleteMany +
 *   insertMany of whole documents, deleting by slot (below; apply-changes.ts, rewrite-docs.ts); the
 *   assessments a run met are stamped once, at finalize. README, Recurring syncs, for the figures.
 *   The API reads this mode too: there it serves the Host Findings list, its facet counts and the hosts'
 *   open counts from a snapshot of the findings' list fields rebuilt once per data change
 *   (apps/api/src/queries/findings-view.ts), as a sorted page or a $group reads every finding there.
 */
import type { Db } from 'mongodb';

export type DbMode = 'mongodb' | 'ferretdb';

/** The server's own answer: FerretDB adds its fields to buildInfo (1.24: `ferretdbVersion`, `ferretdbFeatures`). */
export async function detectDbMode(db: Db): Promise<DbMode> {
  const info = await db.admin().command({ buildInfo: 1 });
  return Object.keys(info).some((k) => k.toLowerCase().startsWith('ferretdb')) ? 'ferretdb' : 'mongodb';
}

/**
 * Keyed statements per bulk in `mongodb` mode. At most 50: FerretDB 1.24 holds a pooled connection per
 * matching statement of a bulk until it ends (pool: 100 on SQLite, 50 on PostgreSQL; more hangs the server),
 * and CI runs this mode against FerretDB.
 */
export const DEFAULT_BULK_SIZE = 50;
export const MAX_BULK_SIZE = 50;

/** Documents per rewrite chunk in `ferretdb` mode (insertMany of 1,000 is one statement). */
export const REWRITE_CHUNK = 1000;

/**
 * Slots: every finding document carries `slot` (0-7, from the first hex digits of its _id), so the
 * ferretdb mode can name a set of findings with a filter the server hands to its backend. FerretDB 1.24
 * passes top-level equalities on strings and 32-bit integers to PostgreSQL (a sequential scan there,
 * returning only the matches) but evaluates `$in` itself after decoding every document of the collection.
 * `{network, slot, _id: {$in}}` therefore decodes one 8th of the network instead of all of it: the
 * changed findings of a re-sync are read, rewritten and URBA-closed slot by slot (README, Recurring syncs,
 * for the figures). On SQLite FerretDB passes only `_id` down, so there a slot filter costs what `$in` does.
 */
export const FINDING_SLOTS = 8;

/** The slot of a finding _id (24 hex chars), or null for an _id of another shape. */
export function slotOf(id: string): number | null {
  if (!/^[0-9a-f]{24}$/.test(id)) return null;
  return parseInt(id.slice(0, 2), 16) % FINDING_SLOTS;
}

/**
 * Findings per connector the embedded default (FerretDB 1.24 on PostgreSQL, 2 cores) was measured to
 * re-sync within 5 minutes (README, Recurring syncs: `npm run bench -- resync`). A run of a larger report
 * on FerretDB records a warning (RunDoc.capacity) that the API shows and the write worker logs.
 */
export const FERRETDB_CAPACITY_FINDINGS = 100_000;

/** The warning of a run of `findings` findings in `mode`, or null within the measured capacity (or on MongoDB). */
export function capacityWarning(mode: DbMode, findings: number, limit = FERRETDB_CAPACITY_FINDINGS): { findings: number; limit: number; message: string } | null {
  if (mode !== 'ferretdb' || findings <= limit) return null;
  return {
    findings,
    limit,
    message:
      `this connector's report has ${findings.toLocaleString('en-US')} findings; the embedded database (FerretDB) was measured to sync ` +
      `${limit.toLocaleString('en-US')} within 5 minutes, and a larger estate syncs slower and slower. Run the connector on MongoDB: ` +
      '`docker compose up` starts one (README, Operations), or set MONGO_URL to your own.',
  };
}
