/**
 * The only reader of process.env. Every app calls loadConfig(process.env) once at start;
 * a bad environment fails with one error that names every bad key.
 */
import { z } from 'zod';

const bool = z
  .enum(['0', '1', 'true', 'false', ''])
  .optional()
  .transform((v) => v === '1' || v === 'true');

const int = (def: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(def);

const secretKey = z
  .string()
  .optional()
  .refine((v) => v === undefined || Buffer.from(v, 'base64').length === 32, {
    message: 'must be 32 bytes, base64-encoded (openssl rand -base64 32)',
  });

const redisUrl = z
  .string()
  .default('redis://127.0.0.1:6379')
  .refine((v) => /^rediss?:\/\//.test(v), { message: 'must be a redis:// or rediss:// URL' });

const mongoUrl = z
  .string()
  .default('mongodb://127.0.0.1:27017/qpc')
  .refine((v) => /^mongodb(\+srv)?:\/\//.test(v), { message: 'must be a mongodb:// URL' });

const schema = z.object({
  REDIS_URL: redisUrl,
  MONGO_URL: mongoUrl,
  QPC_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only (1-64)')
    .default('qpc'),
  QPC_API_PORT: int(8080, 0, 65535),
  QPC_API_HOST: z.string().default('127.0.0.1'),
  QPC_API_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  QPC_VIEWER_TOKENS: z
    .string()
    .optional()
    .transform((v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : [])),
  /** console sign-in sessions expire after this many seconds (default 12 h) */
  QPC_SESSION_TTL_S: int(12 * 3600, 60, 30 * 24 * 3600),
  /** the console's built files, served at / (default: apps/web/dist) */
  QPC_WEB_DIR: z.string().optional(),
  QPC_SECRET_KEY: secretKey,
  QPC_SECRET_KEY_ID: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).default('k1'),
  QPC_ALLOW_HTTP: bool,
  /** https deployments: Qualys URLs may be private addresses (a private cloud platform); loopback, metadata never */
  QPC_ALLOW_PRIVATE_QUALYS: bool,
  QPC_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  QPC_SHUTDOWN_TIMEOUT_MS: int(30_000, 100, 600_000),
  QPC_WORKER_CONCURRENCY: int(4, 1, 256),
  QPC_BATCH_SIZE: int(1000, 1, 50_000),
  QPC_MAX_PENDING_BATCHES: int(8, 1, 1000),
  QPC_URBA_THRESHOLD: z.coerce.number().min(0).max(1).default(0.5),
  /** a run in progress not updated for this long, with no job of its own waiting or active, is stuck */
  QPC_STUCK_AFTER_MS: int(300_000, 1_000, 86_400_000),
  /** the apps ping the database through their client this often (0: no watch) ... */
  QPC_DB_WATCH_MS: int(10_000, 0, 600_000),
  /** ... and when pings fail this long while a new connection answers, the client is wedged: it is reopened */
  QPC_DB_WEDGED_AFTER_MS: int(30_000, 1_000, 3_600_000),
  /**
   * Downloaded report files kept per connector once their runs have ended: the newest N reports'
   * files (0: none). Files that a run still in progress needs are always kept.
   */
  QPC_REPORT_RETENTION: int(3, 0, 10_000),
  /** rows per page of a compliance posture answer (the API's truncation_limit); 0: the API's default (1,000) */
  QPC_POSTURE_PAGE_ROWS: int(0, 0, 1_000_000),
  /**
   * Stalled-job settings of the workers (defaults: @qpc/jobs workerDefaults). A job whose worker died or
   * hung keeps its lock for QPC_LOCK_DURATION_MS, is found stalled within QPC_STALLED_INTERVAL_MS more and
   * run again, at most QPC_MAX_STALLED_COUNT times; once more and it is failed for good.
   */
  QPC_LOCK_DURATION_MS: z.coerce.number().int().min(500).max(600_000).optional(),
  QPC_STALLED_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).optional(),
  QPC_MAX_STALLED_COUNT: z.coerce.number().int().min(0).max(100).optional(),
  /**
   * The write path's statement shape (@qpc/store db-mode.ts): auto asks the server at connect (FerretDB
   * answers buildInfo with a `ferretdb` field); mongodb or ferretdb forces one.
   */
  QPC_DB_MODE: z.enum(['auto', 'mongodb', 'ferretdb']).default('auto'),
  /** keyed statements per bulk in mongodb mode; at most 50 (FerretDB 1.24 holds a connection per matching statement) */
  QPC_DB_BULK_SIZE: int(50, 1, 50),
  /** workers touch this file while healthy (container health checks) */
  QPC_HEARTBEAT_FILE: z.string().optional(),
});

export type Config = Readonly<z.output<typeof schema>>;
export type ConfigKey = keyof z.input<typeof schema>;

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly issues: { key: string; message: string }[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.key} ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** keys this process cannot run without (e.g. the API needs QPC_API_TOKEN) */
  require?: ConfigKey[];
}

export function loadConfig(env: Record<string, string | undefined>, opts: LoadOptions = {}): Config {
  // Empty strings mean unset: `FOO= npm start` should not fail validation.
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const issues: { key: string; message: string }[] = [];
  for (const key of opts.require ?? []) {
    if (input[key] === undefined) issues.push({ key, message: 'is required' });
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? '(env)');
      // Never echo the value: some of these keys are secrets.
      issues.push({ key, message: issue.message });
    }
  }
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);
  return Object.freeze(parsed.data);
}
