/**
 * Host identity inside a network (domain.md): the Qualys host id when the report carries one, else the
 * IP. A host first seen by IP that later arrives with a host id and the same IP is the same host: its
 * document and its findings are re-keyed from `ip:<ip>` to `qid:<id>` (the old key is kept in
 * `aliases`). This is done on the write side (resolveHostIdentities, called by the write of each staged
 * batch before its records are written): the parse stage only reads the report and stages batches.
 * The reverse (an IP-only record of a host known by its host id) is createHostKeyResolver below, a
 * read-only decision the parse stage takes in report order.
 */
import { findingKey, normalizeIp } from '@qpc/domain';
import type { FindingRecord, HostRecord } from '@qpc/pc-report';
import { MongoBulkWriteError, type AnyBulkWriteOperation } from 'mongodb';
import type { Store } from '../db/store.ts';
import type { FindingDoc } from '../db/documents.ts';
import { ONE_BATCH } from '../db/one-batch.ts';
import { keyedUpdate } from './keyed-update.ts';
import { DUPLICATE_KEY } from './insert-new.ts';
import { StoreError } from '../db/errors.ts';

/**
 * The keys of the network's hosts known only by IP (`ip:` key, no host id): read once per run and
 * process (see identityOf), so that resolveHostIdentities looks in the database only for a host whose IP
 * is one of them (each look reads the whole hosts collection on FerretDB, and a report has a batch
 * every 1,000 findings).
 */
export async function ipOnlyHostKeys(store: Store, network: string): Promise<Set<string>> {
  const docs = await store.col.hosts.find({ network, qualysHostId: null }, { batchSize: ONE_BATCH, projection: { _id: 0, hostKey: 1 } }).toArray();
  return new Set(docs.map((d) => d.hostKey).filter((k) => k.startsWith('ip:')));
}

interface RunIdentity {
  /** `ip:` keys of hosts known only by IP: read at the run's first batch in this process, with those its batches wrote since */
  ipOnly: Set<string>;
  /** `qid:` keys of this run's hosts whose identity is settled (merged, or nothing to merge) */
  settled: Set<string>;
}

/** Per process: the identity state of the runs being written (a worker writes one or two runs at a time). */
const identities = new Map<string, Promise<RunIdentity>>();
const KEEP = 2;

function identityOf(store: Store, runId: string, network: string): Promise<RunIdentity> {
  let p = identities.get(runId);
  if (!p) {
    p = (async () => {
      const ipOnly = await ipOnlyHostKeys(store, network);
      // a merge a killed write left unfinished: its old key counts as IP-only, so the next write of the host finishes it
      const marked = await store.col.hosts.find({ network, rekeyFrom: { $type: 'string' } }, { batchSize: ONE_BATCH, projection: { _id: 0, rekeyFrom: 1 } }).toArray();
      for (const m of marked) if (m.rekeyFrom) ipOnly.add(m.rekeyFrom);
      return { ipOnly, settled: new Set<string>() };
    })();
    p.catch(() => identities.delete(runId));
    identities.set(runId, p);
    while (identities.size > KEEP) identities.delete(identities.keys().next().value as string);
  }
  return p;
}

/** Drop a run's identity state (the run ended, or a test wants a fresh read). */
export function forgetIdentities(runId: string): void {
  identities.delete(runId);
}

/**
 * Before a batch's records are written: a host of the batch with a host id whose IP is that of a host
 * known only by IP takes that host over (merge, below). Returns the number of hosts merged by this call.
 *
 * Safe with batches written at once by several processes, and under SIGKILL: the merge is one
 * compare-and-set on the IP-only host, which records the key its findings move from (`rekeyFrom`);
 * every write of a batch holding the host finishes a pending re-key before it writes the host's findings
 * (so no finding is inserted under the new key while an old one still waits to move to it), and the mark
 * goes once every finding moved. A killed merge is finished by the next write of a batch holding that host.
 *
 * Two hosts are left as two: when the network already has a host with the host id (both exist).
 */
export async function resolveHostIdentities(store: Store, ctx: { runId: string; network: string }, hosts: HostRecord[]): Promise<number> {
  const { network } = ctx;
  const state = await identityOf(store, ctx.runId, network);
  const byIpKey = new Map<string, HostRecord>();
  for (const h of hosts) {
    if (h.hostKey.startsWith('ip:') && !h.qualysHostId) state.ipOnly.add(h.hostKey);
    if (!h.qualysHostId || !h.ip || !h.hostKey.startsWith('qid:') || state.settled.has(h.hostKey)) continue;
    const ipKey = `ip:${h.ip.trim().toLowerCase()}`;
    if (state.ipOnly.has(ipKey)) byIpKey.set(ipKey, h);
    else state.settled.add(h.hostKey);
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
      { $set: { hostKey: rec.hostKey, qualysHostId: rec.qualysHostId, rekeyFrom: old.hostKey }, $addToSet: { aliases: old.hostKey } },
    );
    if (r.modifiedCount > 0) merged++;
  }
  // re-keys pending on these hosts (this call's merges, or one another write started and has not finished)
  const newKeys = [...new Set([...byIpKey.values()].map((h) => h.hostKey))];
  const pending = await store.col.hosts
    .find({ network, hostKey: { $in: newKeys }, rekeyFrom: { $type: 'string' } }, { batchSize: ONE_BATCH, projection: { _id: 1, hostKey: 1, rekeyFrom: 1 } })
    .toArray();
  for (const p of pending) {
    const from = p.rekeyFrom as string;
    await rekeyFindings(store, ctx.runId, network, from, p.hostKey);
    await store.col.hosts.updateOne({ _id: p._id, rekeyFrom: from }, { $unset: { rekeyFrom: '' } });
  }
  for (const [ipKey, h] of byIpKey) {
    state.ipOnly.delete(ipKey);
    state.settled.add(h.hostKey);
  }
  return merged;
}

/**
 * Move the findings of `from` to `to`, a page at a time (each move a compare-and-set on the old key).
 * A finding the new key has already (written by a write of this run that ran before the merge was
 * visible to it) is the same finding twice: the run's new document goes and the older one, with its
 * history, moves; one this run did not write stops the merge with an error, nothing removed.
 */
async function rekeyFindings(store: Store, runId: string, network: string, from: string, to: string): Promise<void> {
  for (;;) {
    const page = await store.col.findings
      .find({ network, hostKey: from }, { batchSize: ONE_BATCH, projection: { _id: 1, policyId: 1, controlId: 1, technology: 1, instance: 1 } })
      .limit(1000)
      .toArray();
    if (page.length === 0) return;
    const keys = page.map((f) => findingKey({ hostKey: to, policyId: f.policyId, controlId: f.controlId, technology: f.technology, instance: f.instance }));
    const ops: AnyBulkWriteOperation<FindingDoc>[] = page.map((f, i) => keyedUpdate<FindingDoc>({ _id: f._id, hostKey: from }, { $set: { hostKey: to, findingKey: keys[i]! } }));
    try {
      await store.col.findings.bulkWrite(ops, { ordered: false });
    } catch (err) {
      if (!(err instanceof MongoBulkWriteError) || err.writeConcernError) throw err;
      const errors = err.result.getWriteErrors();
      if (errors.length === 0 || errors.some((e) => e.code !== DUPLICATE_KEY)) throw err;
      const twice = errors.map((e) => keys[e.index]!);
      const removed = await store.col.findings.deleteMany({ network, findingKey: { $in: twice }, firstSeenRunId: runId });
      if (removed.deletedCount === 0) {
        throw new StoreError('HOST_MERGE_CONFLICT', `host ${from} -> ${to}: ${twice.length} of its findings exist under the new key already, not written by run ${runId}; the merge stops there (the host keeps its re-key mark, nothing is removed)`, false);
      }
    }
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
 *   with it), unless a record of this report with a host id has that IP (that record's write merges the
 *   `ip:` host into its host, resolveHostIdentities).
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
      // the network's own ip: host keeps the record, unless a record of this report with a host id has the IP: the
      // write of that record's batch merges the ip: host into it (resolveHostIdentities), so the record joins it too
      const ownIpHost = s?.ipKey === true && !reportAt.get(ip)?.size;
      decided.set(key, ownIpHost || !only ? null : { hostKey: only[0], qualysHostId: only[1] });
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
