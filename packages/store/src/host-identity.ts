/**
 * Host identity inside a network (domain.md): the Qualys host id when the report carries one, else the
 * IP. A host first seen by IP that later arrives with a host id and the same IP is the same host: its
 * document and its findings are re-keyed from `ip:<ip>` to `qid:<id>` (the old key is kept in
 * `aliases`). Called by the parse stage, which reads a report in order, before the batch carrying the
 * host record is staged, so every later write of that host already uses the new key.
 * The reverse (an IP-only record of a host known by its host id) is createHostKeyResolver below.
 */
import { findingKey, normalizeIp } from '@qpc/domain';
import type { FindingRecord, HostRecord } from '@qpc/pc-report';
import type { AnyBulkWriteOperation } from 'mongodb';
import type { Store } from './store.ts';
import type { FindingDoc } from './documents.ts';
import { ONE_BATCH } from './one-batch.ts';
import { keyedUpdate } from './keyed-update.ts';

/**
 * The keys of the network's hosts known only by IP (`ip:` key, no host id): read once per parse, so that
 * resolveHostIdentities looks in the database only for a host whose IP is one of them (each look reads
 * the whole hosts collection on FerretDB, and a report has a batch every 1,000 findings). The parse adds
 * the `ip:` hosts it stages itself.
 */
export async function ipOnlyHostKeys(store: Store, network: string): Promise<Set<string>> {
  const docs = await store.col.hosts.find({ network, qualysHostId: null }, { batchSize: ONE_BATCH, projection: { _id: 0, hostKey: 1 } }).toArray();
  return new Set(docs.map((d) => d.hostKey).filter((k) => k.startsWith('ip:')));
}

/**
 * `ipOnly`: when given (see ipOnlyHostKeys), only hosts whose `ip:` key is in it are looked up; the keys
 * of merged hosts are removed from it.
 */
export async function resolveHostIdentities(store: Store, network: string, hosts: HostRecord[], ipOnly?: Set<string>): Promise<number> {
  const byIpKey = new Map<string, HostRecord>();
  for (const h of hosts) {
    if (!h.qualysHostId || !h.ip || !h.hostKey.startsWith('qid:')) continue;
    const ipKey = `ip:${h.ip.trim().toLowerCase()}`;
    if (!ipOnly || ipOnly.has(ipKey)) byIpKey.set(ipKey, h);
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
    ipOnly?.delete(old.hostKey);
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

/** The host a record of this network is, as decided for one IP-only key. */
interface KnownHost {
  hostKey: string;
  qualysHostId: string;
}

export interface RekeyedBatch {
  hosts: HostRecord[];
  findings: FindingRecord[];
  /** records (hosts and findings) given a known host's `qid:` key */
  rekeyed: number;
}

/**
 * The other direction (domain.md: identity is the Qualys host id when the report carries one, else the
 * IP): a record that carries only an IP, when exactly one host of the network with a Qualys host id
 * has that IP, is that host. Its host record and its findings take that host's `qid:` key (finding
 * keys derive from the host key), so a report without host ids does not duplicate known hosts.
 *
 * Kept as `ip:<ip>`:
 * - when several hosts with a host id share the IP: which one it is cannot be told (NAT, DHCP reuse,
 *   clones), and guessing would write one host's results onto another;
 * - when no host with a host id has the IP;
 * - when the network already has the `ip:<ip>` host itself (an exact identity match; its findings stay
 *   with it; two such hosts are left as two, as in resolveHostIdentities).
 *
 * "Hosts with a host id" are those stored in the network plus the report's own records with a host id
 * read so far (whose IP wins over the stored one: it is this report's), so the decision does not depend
 * on how far the upsert jobs of this run have got. One resolver per parse: each IP is decided once, at
 * its first batch, and kept for the rest of the report, so a host and all its findings get one key
 * across batches. Memory: one entry per host of the report, like the parse stage's own host map.
 * What it cannot see: a record with a host id further on in the same report (a report mixing both
 * kinds for one IP; a re-parse after a crash may then decide on what the first attempt wrote).
 */
export interface HostKeyResolver {
  rekey(hosts: HostRecord[], findings: FindingRecord[]): Promise<RekeyedBatch>;
}

export function createHostKeyResolver(store: Store, network: string): HostKeyResolver {
  const decided = new Map<string, KnownHost | null>(); // `ip:<ip>` -> the known host, or null: stays
  // this report's records with a host id, read so far
  const reportIpOf = new Map<string, string>(); // `qid:<id>` -> normalized IP
  const reportAt = new Map<string, Map<string, string>>(); // normalized IP -> `qid:<id>` -> Qualys host id

  function noteReportHost(h: HostRecord): void {
    if (!h.hostKey.startsWith('qid:') || !h.qualysHostId || !h.ip) return;
    const ip = normalizeIp(h.ip);
    const was = reportIpOf.get(h.hostKey);
    if (was !== undefined && was !== ip) reportAt.get(was)?.delete(h.hostKey);
    reportIpOf.set(h.hostKey, ip);
    const at = reportAt.get(ip) ?? new Map<string, string>();
    at.set(h.hostKey, h.qualysHostId);
    reportAt.set(ip, at);
  }

  async function decide(ipKeys: Map<string, Set<string>>): Promise<void> {
    const wanted = new Set<string>();
    for (const [key, raws] of ipKeys) {
      const ip = key.slice(3);
      wanted.add(ip);
      wanted.add(ip.toUpperCase());
      for (const r of raws) wanted.add(r);
    }
    const docs = await store.col.hosts
      .find({ network, ip: { $in: [...wanted] } }, { batchSize: ONE_BATCH, projection: { _id: 0, hostKey: 1, ip: 1, qualysHostId: 1 } })
      .toArray();
    const stored = new Map<string, { ipKey: boolean; ids: Map<string, string> }>();
    const at = (ip: string) => {
      let s = stored.get(ip);
      if (!s) stored.set(ip, (s = { ipKey: false, ids: new Map() }));
      return s;
    };
    for (const d of docs) {
      if (!d.ip) continue;
      const ip = normalizeIp(d.ip);
      if (d.hostKey === `ip:${ip}`) at(ip).ipKey = true;
      // a stored host this report already gave another IP is no longer at this one
      else if (d.hostKey.startsWith('qid:') && d.qualysHostId && (reportIpOf.get(d.hostKey) ?? ip) === ip) at(ip).ids.set(d.hostKey, d.qualysHostId);
    }
    for (const key of ipKeys.keys()) {
      const ip = key.slice(3);
      const s = stored.get(ip);
      const ids = new Map([...(s?.ids ?? []), ...(reportAt.get(ip) ?? [])]);
      const only = ids.size === 1 ? [...ids][0] : undefined;
      decided.set(key, s?.ipKey || !only ? null : { hostKey: only[0], qualysHostId: only[1] });
    }
  }

  return {
    async rekey(hosts, findings) {
      for (const h of hosts) noteReportHost(h);
      const open = new Map<string, Set<string>>();
      for (const r of [...hosts, ...findings]) {
        if (!r.hostKey.startsWith('ip:') || decided.has(r.hostKey)) continue;
        const raws = open.get(r.hostKey) ?? new Set<string>();
        if (r.ip) raws.add(r.ip);
        open.set(r.hostKey, raws);
      }
      if (open.size > 0) await decide(open);
      let rekeyed = 0;
      const to = (key: string) => (key.startsWith('ip:') ? decided.get(key) : null) ?? null;
      // one record per host x policy, as before: an IP-only record meeting its host's own record in
      // the same batch gives way to it (the record with the host id is the fuller one)
      const byHostPolicy = new Map<string, HostRecord>();
      const own = new Set<string>();
      for (const h of hosts) {
        const k = to(h.hostKey);
        const slot = `${k?.hostKey ?? h.hostKey}|${h.policyId}`;
        if (!k) {
          own.add(slot);
          byHostPolicy.set(slot, h);
          continue;
        }
        rekeyed++;
        if (!own.has(slot)) byHostPolicy.set(slot, { ...h, hostKey: k.hostKey, qualysHostId: k.qualysHostId });
      }
      const outHosts = [...byHostPolicy.values()];
      const outFindings = findings.map((f) => {
        const k = to(f.hostKey);
        if (!k) return f;
        rekeyed++;
        return {
          ...f,
          hostKey: k.hostKey,
          qualysHostId: k.qualysHostId,
          findingKey: findingKey({ hostKey: k.hostKey, policyId: f.policyId, controlId: f.controlId, technology: f.technology, instance: f.instance }),
        };
      });
      return { hosts: outHosts, findings: outFindings, rekeyed };
    },
  };
}
