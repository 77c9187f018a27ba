/** Request schemas of the connector routes; each message names its field (the path does). */
import { z } from 'zod';
import { CONNECTOR_SOURCES, MAX_STALE_AFTER_DAYS, normalizePosture, POSTURE_API_VERSIONS, STALE_AFTER_DAYS_RULE, ScheduleError, SourceError, StaleAfterDaysError, validateSchedule, validateStaleAfterDays, type Schedule } from '@qpc/domain';

const validTimezone = (tz: string) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

const timezone = z.string().default('UTC').refine(validTimezone, { message: 'not a known IANA time zone' });
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24h)');
const CRON_FIELD = /^[0-9A-Za-z*/,?-]+$/;
const cron = z
  .string()
  .trim()
  .refine((v) => {
    const f = v.split(/\s+/);
    return f.length === 5 && f.every((x) => CRON_FIELD.test(x));
  }, { message: 'must be a 5-field cron expression, e.g. "0 2 * * *"' });

export const scheduleKinds = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('cron'), enabled: z.boolean().default(true), cron, timezone }),
  z.object({ kind: z.literal('hourly'), enabled: z.boolean().default(true), minute: z.number().int().min(0).max(59).default(0), timezone }),
  z.object({ kind: z.literal('daily'), enabled: z.boolean().default(true), time: hhmm, timezone }),
  z.object({
    kind: z.literal('weekly'),
    enabled: z.boolean().default(true),
    day: z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']),
    time: hhmm,
    timezone,
  }),
]);

/**
 * The presets and cron of @qpc/domain; validateSchedule() has the last word on what is valid: it parses
 * the cron with the scheduler's own parser, so a schedule saved here is one the scheduler can run.
 */
export const scheduleSchema = scheduleKinds.superRefine((s, ctx) => {
  try {
    validateSchedule(s as Schedule);
  } catch (err) {
    if (err instanceof ScheduleError) ctx.addIssue({ code: 'custom', path: [err.field], message: err.message });
    else ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : 'invalid schedule' });
  }
});

/**
 * The Qualys API base URL: https (plain http only when the deployment allows it), no credentials,
 * query or fragment; kept as its origin plus path without a trailing slash.
 */
export function qualysUrl(allowHttp: boolean) {
  return z
    .string()
    .trim()
    .max(500)
    .transform((v, ctx) => {
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not a valid URL' });
        return z.NEVER;
      }
      if (u.protocol !== 'https:' && !(allowHttp && u.protocol === 'http:')) {
        ctx.addIssue({
          code: 'custom',
          message: allowHttp ? 'must be an http(s) URL' : 'must be https (plain http is refused unless QPC_ALLOW_HTTP=1)',
        });
        return z.NEVER;
      }
      if (u.username || u.password || u.search || u.hash) {
        ctx.addIssue({ code: 'custom', message: 'must not carry credentials, a query or a fragment' });
        return z.NEVER;
      }
      return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
    });
}

/**
 * C0 and C1 controls (NUL, ESC, CR/LF, tab, DEL), the line and paragraph separators and the bidi
 * controls: in a name they forge log lines, terminal colours or a reversed file name in the console.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;
const plainText = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'is required')
    .max(max, `at most ${max} characters`)
    .refine((v) => !CONTROL.test(v), { message: 'must not contain control characters (line breaks, tabs, escapes, bidi controls)' });

const name = plainText(100);
const username = plainText(200);
const password = z.string().min(1, 'is required').max(1000);
const network = plainText(100).refine((v) => !v.includes('.') && !v.startsWith('$'), {
  message: 'must not contain "." or start with "$"',
});
const reportTitlePrefix = plainText(300);
const urbaThreshold = z.number().gt(0).max(1);
/** @qpc/domain's validateStaleAfterDays has the last word; the bounds are repeated for the OpenAPI document */
const staleAfterDays = z
  .number({ error: STALE_AFTER_DAYS_RULE })
  .gt(0, { message: STALE_AFTER_DAYS_RULE, abort: true })
  .max(MAX_STALE_AFTER_DAYS, { message: STALE_AFTER_DAYS_RULE, abort: true })
  .superRefine((v, ctx) => {
    try {
      validateStaleAfterDays(v);
    } catch (err) {
      if (!(err instanceof StaleAfterDaysError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message });
    }
  })
  .describe('days after its newest assessment the connector is stale (default 8)');

/** Where the connector reads results: saved Policy Reports (default) or the Compliance Posture API. */
export const sourceSchema = z.enum(CONNECTOR_SOURCES as ['policy-report', 'posture']);

/**
 * Posture settings, any field left out takes its default (policy ids: every policy the user can see; API
 * 2.0; a full pull every 24 incremental ones); @qpc/domain's normalizePosture has the last word.
 */
export const postureSchema = z
  .strictObject({
    policyIds: z.array(z.union([z.string(), z.number().int().nonnegative()]).transform(String)).max(1000).nullable().optional(),
    apiVersion: z.enum(POSTURE_API_VERSIONS as ['2.0', '3.0']).optional(),
    fullEvery: z.number().int().optional(),
  })
  .superRefine((p, ctx) => {
    try {
      normalizePosture(p);
    } catch (err) {
      if (err instanceof SourceError) ctx.addIssue({ code: 'custom', path: [err.field.replace(/^posture\./, '')], message: err.message });
      else throw err;
    }
  });

export function createConnectorSchema(allowHttp: boolean) {
  return z.strictObject({
    name,
    url: qualysUrl(allowHttp),
    username,
    password,
    network,
    /** required with source policy-report */
    reportTitlePrefix: reportTitlePrefix.optional(),
    source: sourceSchema.default('policy-report'),
    posture: postureSchema.optional(),
    schedule: scheduleSchema.nullable().default(null),
    autoUrba: z.boolean().default(false),
    urbaDryRun: z.boolean().optional(),
    urbaThreshold: urbaThreshold.optional(),
    staleAfterDays: staleAfterDays.optional(),
  }).superRefine((c, ctx) => {
    if (c.source === 'policy-report' && c.reportTitlePrefix === undefined)
      ctx.addIssue({ code: 'custom', path: ['reportTitlePrefix'], message: 'is required when the source is policy-report' });
  });
}

export function updateConnectorSchema(allowHttp: boolean) {
  return z.strictObject({
    name: name.optional(),
    url: qualysUrl(allowHttp).optional(),
    username: username.optional(),
    /** absent keeps the stored password */
    password: password.optional(),
    network: network.optional(),
    reportTitlePrefix: reportTitlePrefix.optional(),
    source: sourceSchema.optional(),
    /** fields given replace the stored ones; the others are kept */
    posture: postureSchema.optional(),
    schedule: scheduleSchema.nullable().optional(),
    autoUrba: z.boolean().optional(),
    urbaDryRun: z.boolean().optional(),
    urbaThreshold: urbaThreshold.nullable().optional(),
    /** null: back to the default */
    staleAfterDays: staleAfterDays.nullable().optional(),
  });
}

/** Test Credentials: any field given replaces the saved one for this test only. */
export function testCredentialsSchema(allowHttp: boolean) {
  return z.strictObject({
    url: qualysUrl(allowHttp).optional(),
    username: username.optional(),
    password: password.optional(),
    reportTitlePrefix: reportTitlePrefix.optional(),
    /** posture: also list the policies the user can see and when each was last evaluated */
    source: sourceSchema.optional(),
    /** posture: the policy ids to check for (default: the connector's) */
    policyIds: z.array(z.union([z.string(), z.number().int().nonnegative()]).transform(String)).max(1000).nullable().optional(),
  });
}

export const idParams = z.object({ id: z.string().min(1).max(200) });
