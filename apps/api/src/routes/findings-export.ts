/**
 * Findings as CSV, streamed: one cursor in id order, each row written as it comes, waiting for the
 * socket to drain, so an export of every finding holds one batch in memory, not the whole list.
 */
import { once } from 'node:events';
import type { Response } from 'express';
import type { Collection, Filter } from 'mongodb';
import type { FindingDoc } from '@qpc/store/db';
import { csvRow } from '../csv.ts';

const COLUMNS = [
  ['id', (d) => d._id],
  ['network', (d) => d.network],
  ['hostId', (d) => d.hostId],
  ['ip', (d) => d.ip],
  ['hostname', (d) => d.hostname],
  ['policyId', (d) => d.policyId],
  ['policyTitle', (d) => d.policyTitle],
  ['controlId', (d) => d.controlId],
  ['title', (d) => d.title],
  ['instance', (d) => d.instance],
  ['technology', (d) => d.technology],
  ['testStatus', (d) => d.testStatus],
  ['status', (d) => d.status],
  ['severity', (d) => d.severity],
  ['expected', (d) => d.expected],
  ['actual', (d) => d.actual],
  ['scanner', (d) => d.scanner],
  ['tags', (d) => d.tags],
  ['firstSeen', (d) => d.firstSeen],
  ['lastSeen', (d) => d.lastSeen],
  ['closedAt', (d) => d.closedAt],
  ['closedReason', (d) => d.closedReason],
] as const satisfies readonly (readonly [string, (d: FindingDoc) => unknown])[];

const PROJECTION = Object.fromEntries(COLUMNS.filter(([k]) => k !== 'id').map(([k]) => [k, 1]));

export async function streamFindingsCsv(findings: Collection<FindingDoc>, match: Record<string, unknown>, res: Response): Promise<void> {
  const cursor = findings.find(match as Filter<FindingDoc>, { projection: PROJECTION, batchSize: 1000 }).sort({ _id: 1 });
  res.status(200);
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', 'attachment; filename="findings.csv"');
  res.setHeader('Cache-Control', 'no-store');
  res.write(csvRow(COLUMNS.map(([k]) => k)));
  try {
    for await (const d of cursor) {
      if (res.destroyed) break; // the client went away
      if (!res.write(csvRow(COLUMNS.map(([, get]) => get(d))))) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    }
    res.end();
  } catch (err) {
    // the header is sent: the only honest signal left is a cut response, never a CSV that looks whole
    res.destroy(err instanceof Error ? err : new Error(String(err)));
  } finally {
    await cursor.close();
  }
}
