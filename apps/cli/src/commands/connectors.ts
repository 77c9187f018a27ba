/**
 * `qpc connectors <list|get|create|edit|delete|test>` over the REST API. The password is read from
 * stdin (--password-stdin), never from the command line (argv shows in `ps` and shell history).
 * The API is at --api <url> (default http://QPC_API_HOST:QPC_API_PORT) with the QPC_API_TOKEN bearer.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '@qpc/config';

export const summary = 'list, create, edit, delete and test connectors (over the REST API)';

const USAGE = `usage: qpc connectors <command> [options]
  list                                  connectors, one per line (--json for JSON)
  get <name|id>                         one connector as JSON
  create --name N --url U --username U --network N --prefix P --password-stdin
         [--daily HH:MM | --hourly MM | --weekly DAY@HH:MM | --cron "m h dom mon dow"] [--tz ZONE] [--auto-urba]
         [--source policy-report|posture] [--policy-ids ID,ID,...|all] [--posture-api 2.0|3.0] [--full-every N]
         (--prefix is needed with the policy-report source, the default; posture: every visible policy unless --policy-ids)
  edit <name|id> [any create option; without --password-stdin the stored password is kept; a new --url or --username needs it]
         [--no-schedule] [--no-auto-urba]
  create/edit: [--stale-after-days N]   days after its newest assessment the connector is stale (default 8; edit: "default" clears it)
  delete <name|id> [--purge]            removes the schedule; data stays unless --purge
  test <name|id>                        Test Credentials: login, Policy Compliance, matching reports (posture: visible policies)
common: --api <url>  (default http://$QPC_API_HOST:$QPC_API_PORT)  --json`;

export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiCallError';
  }
}

export interface ApiClient {
  base: string;
  call<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

/** The API's base URL and token from the config (the only reader of the environment) or --api. */
export function apiClient(apiFlag: string | undefined): ApiClient {
  const config = loadConfig(process.env);
  const host = config.QPC_API_HOST === '0.0.0.0' || config.QPC_API_HOST === '::' ? '127.0.0.1' : config.QPC_API_HOST;
  const base = (apiFlag ?? `http://${host.includes(':') ? `[${host}]` : host}:${config.QPC_API_PORT}`).replace(/\/+$/, '');
  const token = config.QPC_API_TOKEN;
  return {
    base,
    async call<T>(method: string, path: string, body?: unknown) {
      if (!token) throw new ApiCallError(0, 'NO_TOKEN', 'QPC_API_TOKEN is not set');
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
      } catch (err) {
        throw new ApiCallError(0, 'API_UNREACHABLE', `cannot reach the API at ${base}: ${(err as Error).message}`);
      }
      const text = await res.text();
      let json: unknown = undefined;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      if (res.status >= 400) {
        const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
        throw new ApiCallError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? `HTTP ${res.status}`);
      }
      return { status: res.status, body: json as T };
    },
  };
}

export interface ConnectorView {
  id: string;
  name: string;
  url: string;
  username: string;
  network: string;
  reportTitlePrefix: string;
  source?: 'policy-report' | 'posture';
  posture?: { policyIds: string[] | null; apiVersion: string; fullEvery: number } | null;
  schedule: { kind: string; enabled: boolean; timezone: string; [k: string]: unknown } | null;
  autoUrba: boolean;
  staleAfterDays?: number | null;
  dataAge?: number | null;
  stale?: boolean;
  staleReason?: { code: string; message: string } | null;
}

/** A connector by id or by name (case-insensitive), paging through the list. */
export async function findConnector(api: ApiClient, nameOrId: string): Promise<ConnectorView> {
  try {
    return (await api.call<ConnectorView>('GET', `/api/connectors/${encodeURIComponent(nameOrId)}`)).body;
  } catch (err) {
    if (!(err instanceof ApiCallError) || err.status !== 404) throw err;
  }
  let cursor: string | null = null;
  do {
    const page: { items: ConnectorView[]; next: string | null } = (
      await api.call<{ items: ConnectorView[]; next: string | null }>('GET', `/api/connectors?limit=500${cursor ? `&cursor=${cursor}` : ''}`)
    ).body;
    const hit = page.items.find((c) => c.name.toLowerCase() === nameOrId.trim().toLowerCase());
    if (hit) return hit;
    cursor = page.next;
  } while (cursor);
  throw new ApiCallError(404, 'NOT_FOUND', `no connector named or with id ${JSON.stringify(nameOrId)}`);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  // one trailing newline is how `echo` and here-strings end; the password itself is kept as given
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

const options = {
  api: { type: 'string' },
  json: { type: 'boolean' },
  name: { type: 'string' },
  url: { type: 'string' },
  username: { type: 'string' },
  network: { type: 'string' },
  prefix: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  daily: { type: 'string' },
  hourly: { type: 'string' },
  weekly: { type: 'string' },
  cron: { type: 'string' },
  tz: { type: 'string' },
  'no-schedule': { type: 'boolean' },
  'auto-urba': { type: 'boolean' },
  'no-auto-urba': { type: 'boolean' },
  'stale-after-days': { type: 'string' },
  purge: { type: 'boolean' },
  source: { type: 'string' },
  'policy-ids': { type: 'string' },
  'posture-api': { type: 'string' },
  'full-every': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

class UsageError extends Error {}

function schedule(v: Values): Record<string, unknown> | null | undefined {
  const timezone = v.tz ?? 'UTC';
  const given = [v.daily, v.hourly, v.weekly, v.cron].filter((x) => x !== undefined).length;
  if (given > 1) throw new UsageError('give one of --daily, --hourly, --weekly, --cron');
  if (v['no-schedule']) return null;
  if (v.daily !== undefined) return { kind: 'daily', time: v.daily, timezone };
  if (v.hourly !== undefined) return { kind: 'hourly', minute: Number(v.hourly), timezone };
  if (v.cron !== undefined) return { kind: 'cron', cron: v.cron, timezone };
  if (v.weekly !== undefined) {
    const [day, time] = v.weekly.split('@');
    if (!day || !time) throw new UsageError('--weekly takes DAY@HH:MM, e.g. mon@02:30');
    return { kind: 'weekly', day: day.toLowerCase(), time, timezone };
  }
  return undefined;
}

async function fields(v: Values): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = {};
  if (v.name !== undefined) body.name = v.name;
  if (v.url !== undefined) body.url = v.url;
  if (v.username !== undefined) body.username = v.username;
  if (v.network !== undefined) body.network = v.network;
  if (v.prefix !== undefined) body.reportTitlePrefix = v.prefix;
  const s = schedule(v);
  if (s !== undefined) body.schedule = s;
  if (v['auto-urba']) body.autoUrba = true;
  if (v['no-auto-urba']) body.autoUrba = false;
  if (v['stale-after-days'] !== undefined) body.staleAfterDays = staleAfterDays(v['stale-after-days']);
  if (v.source !== undefined) body.source = v.source;
  const posture: Record<string, unknown> = {};
  if (v['policy-ids'] !== undefined) posture.policyIds = v['policy-ids'].trim().toLowerCase() === 'all' ? null : v['policy-ids'].split(',').map((x) => x.trim()).filter(Boolean);
  if (v['posture-api'] !== undefined) posture.apiVersion = v['posture-api'];
  if (v['full-every'] !== undefined) {
    if (!/^\d+$/.test(v['full-every'])) throw new UsageError('--full-every takes a whole number');
    posture.fullEvery = Number(v['full-every']);
  }
  if (Object.keys(posture).length) body.posture = posture;
  if (v['password-stdin']) body.password = await readStdin();
  return body;
}

/** A number of days (the API checks the range: over 0, at most 366), or "default" (null: the default, 8). */
function staleAfterDays(text: string): number | null {
  if (text.trim().toLowerCase() === 'default') return null;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--stale-after-days takes a number of days or "default", not ${JSON.stringify(text)}`);
  return n;
}

/** "fresh (3.2 d)", "stale: <reason>", or "-" from an API that does not say. */
function freshnessText(c: ConnectorView): string {
  if (c.stale === undefined) return '-';
  if (c.stale) return `stale: ${c.staleReason?.message ?? 'unknown reason'}`;
  return `fresh (${c.dataAge == null ? '?' : `${Math.floor((c.dataAge / 86400) * 10) / 10} d`})`;
}

const line = (c: ConnectorView) =>
  [c.name, c.id, c.url, c.network, c.source === 'posture' ? `posture:${c.posture?.policyIds?.join(',') ?? 'all'}` : c.reportTitlePrefix, c.schedule && c.schedule.enabled ? c.schedule.kind : 'on-demand', c.autoUrba ? 'urba' : '-', freshnessText(c)].join('\t');

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`qpc connectors: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  const [sub, target, ...extra] = positionals;
  if (v.help || !sub) {
    (v.help ? process.stdout : process.stderr).write(`${USAGE}\n`);
    return v.help ? 0 : 2;
  }
  const out = (x: unknown) => process.stdout.write(`${typeof x === 'string' ? x : JSON.stringify(x, null, 2)}\n`);
  try {
    const needsTarget = ['get', 'edit', 'delete', 'test'].includes(sub);
    if (needsTarget && !target) throw new UsageError(`${sub} needs a connector name or id`);
    if (extra.length || (!needsTarget && target)) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0] ?? target)}`);
    const api = apiClient(v.api);
    switch (sub) {
      case 'list': {
        const all: ConnectorView[] = [];
        let cursor: string | null = null;
        do {
          const page: { items: ConnectorView[]; next: string | null } = (
            await api.call<{ items: ConnectorView[]; next: string | null }>('GET', `/api/connectors?limit=500${cursor ? `&cursor=${cursor}` : ''}`)
          ).body;
          all.push(...page.items);
          cursor = page.next;
        } while (cursor);
        if (v.json) out(all);
        else for (const c of all) out(line(c));
        return 0;
      }
      case 'get':
        out(await findConnector(api, target!));
        return 0;
      case 'create': {
        const body = await fields(v);
        if (body.password === undefined) throw new UsageError('create needs --password-stdin (the password is read from stdin)');
        if (body.staleAfterDays === null) delete body.staleAfterDays; // "default" is what a new connector has
        const c = (await api.call<ConnectorView>('POST', '/api/connectors', body)).body;
        if (v.json) out(c);
        else out(`created ${c.name} (${c.id})`);
        return 0;
      }
      case 'edit': {
        const c = await findConnector(api, target!);
        const body = await fields(v);
        if (Object.keys(body).length === 0) throw new UsageError('edit: nothing to change');
        const after = (await api.call<ConnectorView>('PATCH', `/api/connectors/${encodeURIComponent(c.id)}`, body)).body;
        if (v.json) out(after);
        else out(`updated ${after.name} (${after.id})`);
        return 0;
      }
      case 'delete': {
        const c = await findConnector(api, target!);
        const r = (await api.call<{ scheduleRemoved: number; purged: unknown }>('DELETE', `/api/connectors/${encodeURIComponent(c.id)}${v.purge ? '?purge=true' : ''}`)).body;
        if (v.json) out(r);
        else out(`deleted ${c.name} (${c.id})${r.purged ? `; purged ${JSON.stringify(r.purged)}` : '; data kept'}`);
        return 0;
      }
      case 'test': {
        const c = await findConnector(api, target!);
        type Probe = {
          ok: boolean;
          failedAt?: string;
          error?: { code: string; message: string };
          reports: { id: string; title: string; state: string | null; size: string | null; launchedAt: string | null }[];
          policies?: { id: string; title: string; lastEvaluatedAt: string | null; selected: boolean }[];
        };
        const r = (await api.call<Probe>('POST', `/api/connectors/${encodeURIComponent(c.id)}/test`, {})).body;
        if (v.json) out(r);
        else if (r.ok && r.policies) {
          out(`ok: login, Policy Compliance; ${r.policies.length} visible polic${r.policies.length === 1 ? 'y' : 'ies'} (* pulled by this connector)`);
          for (const p of r.policies) out(`  ${p.selected ? '*' : ' '} ${p.id}\tlast evaluated ${p.lastEvaluatedAt ?? 'never'}\t${p.title}`);
        } else if (r.ok) {
          out(`ok: login, Policy Compliance; ${r.reports.length} report(s) titled "${c.reportTitlePrefix}..."`);
          for (const rep of r.reports) out(`  ${rep.id}\t${rep.state ?? '?'}\t${rep.size ?? '?'}\t${rep.launchedAt ?? '?'}\t${rep.title}`);
        } else out(`failed at ${r.failedAt}: ${r.error?.code}: ${r.error?.message}`);
        return r.ok ? 0 : 1;
      }
      default:
        throw new UsageError(`unknown command ${JSON.stringify(sub)}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`qpc connectors: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    if (err instanceof ApiCallError) {
      process.stderr.write(`qpc connectors: ${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
