/**
 * The one seam between MongoDB and FerretDB 1.24, chosen once at connect. The same documents and the
 * same guarantees either way; only the shape of the statements differs:
 *
 * - `mongodb`: per batch, one keyed read of the batch's findings; status and content changes applied as
 *   keyed updates (index lookups on MongoDB) in bulks of QPC_DB_BULK_SIZE.
 * - `ferretdb`: FerretDB 1.24 uses no index for any filter, so every statement reads the whole
 *   collection (updateOne by key: 0.4/s at 50,000 findings; updateMany of 500 ids: over 90 s, it writes
 *   the matched documents one by one). The current state comes from one streaming read per run and
 *   worker, and changed documents are rewritten as journaled deleteMany + insertMany of whole documents
 *   in chunks of 1,000 (README, Recurring syncs, for the figures).
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
