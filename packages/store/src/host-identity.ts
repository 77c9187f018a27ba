/**
 * Host identity inside a network (domain.md): the Qualys host id when the report carries one, else the
 * IP. A host first seen by IP that later arrives with a host id and the same IP is the same host: its
 * document and its findings are re-keyed from `ip:<ip>` to `qid:<id>` (the old key is kept in
 * `aliases`). Called by the parse stage, which reads a report in order, before the batch carrying the
 * host record is staged, so every later write of that host already uses the new key.
 */
import { findingKey } from '@qpc/domain';
import type { HostRecord } from '@qpc/pc-report';
import type { AnyBulkWriteOperation } from 'mongodb';
import type { Store } from './store.ts';
import type { FindingDoc } from './documents.ts';
import { ONE_BATCH } from './one-batch.ts';
import { keyedUpdate } from './keyed-update.ts';

export async function resolveHostIdentities(store: Store, network: string, hosts: HostRecord[]): Promise<number> {
  const byIpKey = new Map<string, HostRecord>();
  for (const h of hosts) {
    if (h.qualysHostId && h.ip && h.hostKey.startsWith('qid:')) byIpKey.set(`ip:${h.ip.trim().toLowerCase()}`, h);
  }
  if (byIpKey.size === 0) return 0;
  const ipHosts = await store.col.hosts
    .find({ network, hostKey: { $in: [...byIpKey.keys()] }, qualysHostId: null }, { batchSize: ONE_BATCH, projection: { _id: 1, hostKey: 1 } })
    .toArray();
  let merged = 0;
  for (const old of ipHosts) {
    const rec = byIpKey.get(old.hostKey);
    if (!rec) continue;
    const taken = await store.col.hosts.findOne({ network, hostKey: rec.hostKey }, { projection: { _id: 1 } });
    if (taken) continue; // both exist already: two hosts, leave them
    const r = await store.col.hosts.updateOne(
      { _id: old._id, hostKey: old.hostKey },
      { $set: { hostKey: rec.hostKey, qualysHostId: rec.qualysHostId }, $addToSet: { aliases: old.hostKey } },
    );
    if (r.modifiedCount === 0) continue;
    merged++;
    await rekeyFindings(store, network, old.hostKey, rec.hostKey);
  }
  return merged;
}

async function rekeyFindings(store: Store, network: string, from: string, to: string): Promise<void> {
  for (;;) {
    const page = await store.col.findings
      .find({ network, hostKey: from }, { batchSize: ONE_BATCH, projection: { _id: 1, policyId: 1, controlId: 1, technology: 1, instance: 1 } })
      .limit(1000)
      .toArray();
    if (page.length === 0) return;
    const ops: AnyBulkWriteOperation<FindingDoc>[] = page.map((f) =>
      keyedUpdate<FindingDoc>(
        { _id: f._id, hostKey: from },
        {
          $set: {
            hostKey: to,
            findingKey: findingKey({ hostKey: to, policyId: f.policyId, controlId: f.controlId, technology: f.technology, instance: f.instance }),
          },
        },
      ),
    );
    await store.col.findings.bulkWrite(ops, { ordered: false });
  }
}
