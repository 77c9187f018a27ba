/**
 * The logical content of a generated report, shared by the XML writer and by expectedRecords(), so
 * that the two cannot disagree. Hosts and controls derive from their index (the same hosts and
 * controls in every report of a scenario, as in one real subscription); results derive from the seed.
 */
import { hash, mix } from './prng.ts';
import type { ReportSpec } from './spec.ts';
import * as T from './tables.ts';

export const PASSED = 0;
export const FAILED = 1;
export const ERROR = 2;
export const STATUS_TITLE = ['Passed', 'Failed', 'Error'] as const;

export interface TechInstance {
  techId: string;
  techName: string;
  instance: string;
}

export interface ExceptionValues {
  status: string;
  assignee: string;
  endDate: string;
  createdBy: string;
  createdDate: string;
  modifiedBy: string;
  modifiedDate: string;
}

export interface ControlDef {
  index: number;
  cid: string;
  statement: string;
  /** null: the report gives no criticality at all */
  criticalityValue: number | null;
  /** null: the report gives the value without a label */
  criticalityLabel: string | null;
  insts: TechInstance[];
  /** for the by-control layout: instance indexes grouped by technology, in order */
  groups: number[][];
  rationale: string;
  remediation: string;
  expected: string;
  actual: [string, string, string];
  causeOfFailure: string;
  references: string;
  exception: ExceptionValues;
}

export interface HostDef {
  index: number;
  ip: string;
  qualysHostId: string;
  dns: string | null;
  netbios: string | null;
  os: string;
  trackingMethod: string;
  lastScanDate: string;
  evaluationDate: string;
  firstFailDate: string;
  lastFailDate: string;
  firstPassDate: string;
  lastPassDate: string;
  /** as written, duplicates included */
  tags: string[];
}

export interface PolicyDef {
  index: number;
  id: string;
  title: string;
}

const LABELS = ['MINIMAL', 'MEDIUM', 'SERIOUS', 'CRITICAL', 'URGENT'];
const THRESH = 4294967296;

function pick<T>(list: readonly T[], n: number): T {
  return list[n % list.length] as T;
}

function isoPlus(base: number, seconds: number): string {
  return new Date(base + seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** Result code bits: 0-1 status, 2-3 status letter case, 4 previous status given, 5 exception. */
export const R_PREV = 16;
export const R_EXC = 32;

export class ReportModel {
  readonly spec: ReportSpec;
  readonly controls: ControlDef[];
  readonly policies: PolicyDef[];
  readonly maxInst: number;
  private readonly base: number;
  private readonly seedP: number[];
  private readonly tPass: number;
  private readonly tFail: number;
  private readonly muts: Array<{ kind: number; salt: number; t: number; first: number; drop: boolean[] }>;

  constructor(spec: ReportSpec) {
    this.spec = spec;
    this.base = Date.parse(spec.generatedAt);
    const { size } = spec;
    this.maxInst = Math.max(1, size.instancesPerControl);
    this.controls = [];
    for (let j = 0; j < size.controls; j++) this.controls.push(this.controlDef(j));
    this.policies = [];
    for (let p = 0; p < size.policies; p++)
      this.policies.push({ index: p, id: String(spec.firstPolicyId + p), title: pick(T.POLICY_TITLES, p) });
    this.seedP = this.policies.map((_, p) => hash(spec.seed, p));
    const r = spec.ratios;
    const total = r.passed + r.failed + r.error || 1;
    this.tPass = Math.floor((r.passed / total) * THRESH);
    this.tFail = Math.floor(((r.passed + r.failed) / total) * THRESH);
    this.muts = spec.mutations.map((m, i) => {
      const salt = hash(spec.seed ^ 0x5bd1e995, i + 1);
      const pct = 'percent' in m ? Math.floor((Math.min(100, Math.max(0, m.percent)) / 100) * THRESH) : 0;
      switch (m.type) {
        case 'flip':
          return { kind: 0, salt, t: pct, first: 0, drop: [] };
        case 'dropHosts':
          return { kind: 1, salt, t: pct, first: 0, drop: [] };
        case 'dropControls': {
          const set = new Set(m.cids.map(String));
          return { kind: 2, salt, t: 0, first: m.firstHosts, drop: this.controls.map((c) => set.has(c.cid)) };
        }
        case 'dropInstances':
          return { kind: 3, salt, t: pct, first: 0, drop: [] };
      }
    });
  }

  private controlDef(j: number): ControlDef {
    const cidN = this.spec.firstControlId + j;
    const h = hash(0xc0ffee, cidN);
    const kind = h % 4;
    const maxInst = this.maxInst;
    const insts: TechInstance[] = [];
    if (kind === 2) {
      // a database control: one technology, several instances on one host
      const [techId, techName] = pick(T.DB_TECHS, h >>> 4);
      const n = Math.min(maxInst, T.DB_INSTANCES.length);
      const short = techName.split(' ')[0]?.toLowerCase() ?? 'db';
      for (let k = 0; k < n; k++) insts.push({ techId, techName, instance: `${short}:1:${pick(T.DB_INSTANCES, k)}` });
    } else if (kind === 3 || maxInst === 1) {
      const [techId, techName] = pick(T.OS_TECHS, h >>> 4);
      insts.push({ techId, techName, instance: 'os' });
    } else {
      // an OS control evaluated for several technologies, same instance name
      const n = Math.min(maxInst, T.OS_TECHS.length);
      for (let k = 0; k < n; k++) {
        const [techId, techName] = pick(T.OS_TECHS, (h >>> 4) + k);
        insts.push({ techId, techName, instance: 'os' });
      }
    }
    const groups: number[][] = [];
    insts.forEach((ins, k) => {
      const g = groups.find((gr) => insts[gr[0] ?? 0]?.techName === ins.techName);
      if (g) g.push(k);
      else groups.push([k]);
    });
    // one control in 13 has no criticality, one a value without label, one a renamed label
    const critSel = j % 13;
    const criticalityValue = critSel === 5 ? null : 1 + ((h >>> 12) % 5);
    const criticalityLabel =
      criticalityValue === null || critSel === 7 ? null : critSel === 9 ? 'Renamed Label' : (LABELS[criticalityValue - 1] ?? null);
    const ev = pick(T.EVIDENCE, j);
    return {
      index: j,
      cid: String(cidN),
      statement: `${pick(T.STATEMENTS, j)}${j >= T.STATEMENTS.length ? ` (#${j})` : ''}`,
      criticalityValue,
      criticalityLabel,
      insts,
      groups,
      rationale: pick(T.RATIONALES, j),
      remediation: pick(T.REMEDIATIONS, j),
      expected: ev.expected,
      actual: [ev.pass, ev.fail, pick(T.ERROR_ACTUALS, j)],
      causeOfFailure: pick(T.CAUSES, j),
      references: pick(T.REFERENCES, j),
      exception: {
        status: 'Approved',
        assignee: 'risk.owner@example.com',
        endDate: isoPlus(this.base, 86400 * (30 + (j % 60))),
        createdBy: 'Ada Admin',
        createdDate: isoPlus(this.base, -86400 * 10),
        modifiedBy: 'Zoë Risk',
        modifiedDate: isoPlus(this.base, -86400 * 2),
      },
    };
  }

  /** the IP of host i (cheap: the by-control layout asks once per result) */
  hostIp(i: number): string {
    const n = i + 1;
    const v6 = this.spec.variants.ipv6Share > 0 && mix(0x1f6, i) / THRESH < this.spec.variants.ipv6Share;
    return v6 ? `2001:db8:0:${((n >>> 16) & 0xffff).toString(16)}::${(n & 0xffff).toString(16)}` : `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }

  /** which of the 48 scan times host i has: every date of a host derives from it */
  hostSlot(i: number): number {
    return (hash(0xb0575, i) >>> 6) % 48;
  }

  host(i: number): HostDef {
    const h = hash(0xb0575, i);
    const n = i + 1;
    const ip = this.hostIp(i);
    const nameSel = i % 29 === 28 ? 2 : i % 7 === 6 ? 1 : 0;
    const dns = nameSel === 0 ? (i % 11 === 3 ? `zürich-srv${n}.example.ch` : `srv${n}.example.com`) : null;
    const netbios = nameSel === 2 ? null : `SRV${n}`;
    const tags: string[] = [];
    const tagCount = h % 4;
    for (let t = 0; t < tagCount; t++) tags.push(pick(T.TAGS, (h >>> 4) + t * 3));
    if ((h >>> 10) % 9 === 0 && tags.length > 0) tags.push(tags[0] as string); // a duplicate, deduplicated by the parser
    const ago = 3600 * (1 + this.hostSlot(i));
    return {
      index: i,
      ip,
      qualysHostId: String(this.spec.firstHostId + i),
      dns,
      netbios,
      os: pick(T.OSES, h >>> 3),
      trackingMethod: pick(T.TRACKING, h >>> 5),
      lastScanDate: isoPlus(this.base, -ago),
      evaluationDate: isoPlus(this.base, -ago + 300),
      firstFailDate: isoPlus(this.base, -ago - 86400 * 30),
      lastFailDate: isoPlus(this.base, -ago + 300),
      firstPassDate: isoPlus(this.base, -ago - 86400 * 60),
      lastPassDate: isoPlus(this.base, -ago + 300),
      tags,
    };
  }

  hostDropped(i: number): boolean {
    for (const m of this.muts) if (m.kind === 1 && mix(m.salt, i) < m.t) return true;
    return false;
  }

  /** -1: not in the report; else status | case << 2 | R_PREV | R_EXC */
  result(p: number, h: number, j: number, k: number): number {
    const r = mix(mix(mix(this.seedP[p] as number, h), j), k);
    let s = r < this.tPass ? PASSED : r < this.tFail ? FAILED : ERROR;
    for (const m of this.muts) {
      switch (m.kind) {
        case 0:
          if (mix(m.salt, r) < m.t) s = s === PASSED ? FAILED : PASSED;
          break;
        case 2:
          if (h < m.first && m.drop[j]) return -1;
          break;
        case 3:
          if (k > 0 && mix(m.salt, r) < m.t) return -1;
          break;
      }
    }
    const r2 = mix(r, 0x2545f491);
    let bits = s | ((r2 & 3) << 2);
    if (((r2 >>> 2) & 3) === 0) bits |= R_PREV;
    if (s === FAILED && ((r2 >>> 4) & 31) === 0) bits |= R_EXC;
    return bits;
  }
}
