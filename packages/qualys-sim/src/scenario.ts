/**
 * Scenarios: who may log in, whether Policy Compliance is enabled, and the reports on the "server".
 * A scenario file is JSON validated by scenarioFileSchema; times may be ISO or relative to the start
 * of the simulator ("-3d", "+7d", "-10m", "now"). Report content never depends on the clock, so the
 * same report id always yields the same bytes.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { reportSpec, type Mutation, type ReportSpec } from './spec.ts';

export type ReportType = 'Policy' | 'Scan' | 'Map' | 'Patch' | 'Remediation' | 'Compliance' | 'Scorecard';
export type ReportState = 'Submitted' | 'Running' | 'Finished' | 'Canceled' | 'Errors';
export type OutputFormat = 'XML' | 'CSV' | 'PDF' | 'HTML' | 'MHT';

export interface ScenarioReport extends ReportSpec {
  type: ReportType;
  state: ReportState;
  outputFormat: OutputFormat;
  /** ISO, resolved */
  launchedAt: string;
  expiresAt: string;
  derivedFrom: string | null;
}

export interface Scenario {
  user: { login: string; password: string };
  pcModule: boolean;
  /** a launched report stays Running this long, then is Finished */
  launchFinishAfterMs: number;
  reports: ScenarioReport[];
}

const relTime = z.string().min(1);
const variantsSchema = z
  .object({
    root: z.enum(['COMPLIANCE_POLICY_REPORT', 'POLICY_REPORT']),
    hostIdElement: z.enum(['QG_HOSTID', 'HOST_ID', 'QUALYS_HOST_ID', 'none']),
    technology: z.enum(['element', 'text', 'fields']),
    evidence: z.enum(['element', 'fields', 'text']),
    criticality: z.enum(['element', 'attributes', 'fields']),
    text: z.enum(['cdata', 'escaped']),
    bom: z.boolean(),
    comments: z.boolean(),
    statusCase: z.enum(['title', 'upper', 'lower', 'mixed']),
    unknownElements: z.boolean(),
    ipv6Share: z.number().min(0).max(1),
    optionalFields: z.boolean(),
    rejectSamples: z.boolean(),
  })
  .partial()
  .strict();
const mutationSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('flip'), percent: z.number().min(0).max(100) }).strict(),
  z.object({ type: z.literal('dropHosts'), percent: z.number().min(0).max(100) }).strict(),
  z.object({ type: z.literal('dropControls'), cids: z.array(z.union([z.string(), z.number()]).transform(String)), firstHosts: z.number().int().min(0) }).strict(),
  z.object({ type: z.literal('dropInstances'), percent: z.number().min(0).max(100) }).strict(),
]);
const count = (max: number) => z.number().int().min(0).max(max);
const reportSchema = z
  .object({
    id: z.union([z.string().regex(/^\d+$/), z.number().int().positive()]).transform(String),
    title: z.string().min(1).max(256),
    type: z.enum(['Policy', 'Scan', 'Map', 'Patch', 'Remediation', 'Compliance', 'Scorecard']).default('Policy'),
    state: z.enum(['Submitted', 'Running', 'Finished', 'Canceled', 'Errors']).default('Finished'),
    outputFormat: z.enum(['XML', 'CSV', 'PDF', 'HTML', 'MHT']).default('XML'),
    launched: relTime.default('-1h'),
    expires: relTime.optional(),
    layout: z.enum(['by-host', 'by-control']).optional(),
    variants: variantsSchema.optional(),
    size: z.object({ hosts: count(10_000_000), controls: count(100_000), instancesPerControl: z.number().int().min(1).max(6), policies: z.number().int().min(1).max(5) }).partial().strict().optional(),
    ratios: z.object({ passed: z.number().min(0), failed: z.number().min(0), error: z.number().min(0) }).strict().optional(),
    seed: z.number().int().optional(),
    generatedAt: z.iso.datetime().optional(),
    company: z.string().optional(),
    userName: z.string().optional(),
    firstPolicyId: z.number().int().positive().optional(),
    firstControlId: z.number().int().positive().optional(),
    firstHostId: z.number().int().positive().optional(),
    derivedFrom: z.union([z.string(), z.number()]).transform(String).optional(),
    mutations: z.array(mutationSchema).optional(),
  })
  .strict();
export const scenarioFileSchema = z
  .object({
    user: z.object({ login: z.string().min(1), password: z.string().min(1) }).strict().default({ login: 'demo', password: 'demo' }),
    pcModule: z.boolean().default(true),
    launchFinishAfterMs: z.number().int().min(0).default(1000),
    reports: z.array(reportSchema),
  })
  .strict();
export type ScenarioFile = z.input<typeof scenarioFileSchema>;
type ReportInput = z.output<typeof reportSchema>;

export class ScenarioError extends Error {
  readonly code = 'SIM_SCENARIO';
  override readonly name = 'ScenarioError';
}

/** "-3d", "+2h", "-10m", "30s", "now" relative to `now`; or an ISO date-time */
export function resolveTime(text: string, now: number): string {
  const m = /^([+-]?)(\d+)([smhd])$/.exec(text.trim());
  let ms: number;
  if (text.trim() === 'now') ms = now;
  else if (m) {
    const unit = { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[m[3] as 's' | 'm' | 'h' | 'd'];
    ms = now + (m[1] === '-' ? -1 : 1) * Number(m[2]) * unit;
  } else {
    ms = Date.parse(text);
    if (Number.isNaN(ms)) throw new ScenarioError(`not a time: "${text}" (ISO date-time or -3d, +2h, -10m, 30s, now)`);
  }
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Validates a scenario (file content or object) and resolves times, defaults and derived reports. */
export function resolveScenario(input: unknown, now = Date.now()): Scenario {
  const parsed = scenarioFileSchema.safeParse(input);
  if (!parsed.success) throw new ScenarioError(`invalid scenario: ${z.prettifyError(parsed.error)}`);
  const file = parsed.data;
  const byId = new Map<string, ScenarioReport>();
  const reports: ScenarioReport[] = [];
  for (const r of file.reports) {
    if (byId.has(r.id)) throw new ScenarioError(`duplicate report id ${r.id}`);
    const rep = resolveReport(r, byId, file.user.login, now);
    byId.set(rep.id, rep);
    reports.push(rep);
  }
  return { user: file.user, pcModule: file.pcModule, launchFinishAfterMs: file.launchFinishAfterMs, reports };
}

function resolveReport(r: ReportInput, byId: Map<string, ScenarioReport>, login: string, now: number): ScenarioReport {
  const launchedAt = resolveTime(r.launched, now);
  const expiresAt = r.expires ? resolveTime(r.expires, now) : resolveTime('+7d', Date.parse(launchedAt));
  const meta = { type: r.type, state: r.state, outputFormat: r.outputFormat, launchedAt, expiresAt, derivedFrom: r.derivedFrom ?? null };
  let spec: ReportSpec;
  if (r.derivedFrom !== undefined) {
    const base = byId.get(r.derivedFrom);
    if (!base) throw new ScenarioError(`report ${r.id}: derivedFrom ${r.derivedFrom} is not an earlier report of the scenario`);
    for (const k of ['seed', 'size', 'ratios', 'firstPolicyId', 'firstControlId', 'firstHostId'] as const)
      if (r[k] !== undefined) throw new ScenarioError(`report ${r.id}: a derived report takes "${k}" from its base`);
    const mutations: Mutation[] = [...base.mutations, ...(r.mutations ?? [])];
    spec = {
      ...base,
      id: r.id,
      title: r.title,
      layout: r.layout ?? base.layout,
      variants: { ...base.variants, ...r.variants },
      mutations,
      generatedAt: r.generatedAt ?? base.generatedAt,
      company: r.company ?? base.company,
      userName: r.userName ?? base.userName,
    };
  } else {
    spec = reportSpec({
      id: r.id,
      title: r.title,
      userLogin: login,
      ...defined({
        seed: r.seed ?? Number(r.id),
        layout: r.layout,
        variants: r.variants,
        size: r.size,
        ratios: r.ratios,
        mutations: r.mutations,
        generatedAt: r.generatedAt,
        company: r.company,
        userName: r.userName,
        firstPolicyId: r.firstPolicyId,
        firstControlId: r.firstControlId,
        firstHostId: r.firstHostId,
      }),
    } as Partial<ReportSpec> & { id: string; title: string });
  }
  const { type, state, outputFormat, derivedFrom } = meta;
  return { ...spec, type, state, outputFormat, launchedAt: meta.launchedAt, expiresAt: meta.expiresAt, derivedFrom };
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export async function loadScenarioFile(path: string, now = Date.now()): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ScenarioError(`cannot read scenario file ${path}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ScenarioError(`scenario file ${path} is not JSON`, { cause: err });
  }
  return resolveScenario(json, now);
}

/** The built-in scenario: user demo/demo and a handful of reports around the prefix "QPC-DEMO". */
export const DEMO_SCENARIO: ScenarioFile = {
  user: { login: 'demo', password: 'demo' },
  pcModule: true,
  launchFinishAfterMs: 1000,
  reports: [
    {
      id: '1001',
      title: 'QPC-DEMO Windows Servers',
      launched: '-3d',
      seed: 1001,
      size: { hosts: 240, controls: 30, instancesPerControl: 3, policies: 1 },
      generatedAt: '2026-11-17T10:00:00Z',
    },
    {
      id: '1002',
      title: 'QPC-DEMO Windows Servers',
      launched: '-1d',
      derivedFrom: '1001',
      generatedAt: '2026-11-19T10:00:00Z',
      mutations: [
        { type: 'flip', percent: 10 },
        { type: 'dropHosts', percent: 5 },
        { type: 'dropControls', cids: ['1003', '1004'], firstHosts: 20 },
        { type: 'dropInstances', percent: 30 },
      ],
    },
    {
      id: '1003',
      title: 'QPC-DEMO Linux and Databases',
      launched: '-2d',
      seed: 1003,
      layout: 'by-control',
      size: { hosts: 200, controls: 24, instancesPerControl: 3, policies: 2 },
      variants: {
        root: 'POLICY_REPORT',
        hostIdElement: 'HOST_ID',
        technology: 'text',
        evidence: 'text',
        criticality: 'attributes',
        text: 'escaped',
        bom: true,
        comments: true,
        statusCase: 'mixed',
        unknownElements: true,
        ipv6Share: 0.2,
      },
      firstPolicyId: 2001,
      firstHostId: 98001,
      generatedAt: '2026-11-18T10:00:00Z',
    },
    { id: '1004', title: 'QPC-DEMO Windows Servers', state: 'Running', launched: '-10m', seed: 1004 },
    { id: '1005', title: 'Quarterly CIS audit', launched: '-2d', seed: 1005, size: { hosts: 20, controls: 10, instancesPerControl: 1, policies: 1 } },
    { id: '1006', title: 'QPC-DEMO Windows Servers', launched: '-10d', expires: '-3d', seed: 1006, size: { hosts: 20, controls: 10, instancesPerControl: 2, policies: 1 } },
    { id: '1007', title: 'QPC-DEMO Scan results', type: 'Scan', launched: '-1d', seed: 1007 },
  ],
};
