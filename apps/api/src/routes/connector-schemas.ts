/** Request schemas of the connector routes; each message names its field (the path does). */
import { z } from 'zod';
import { scheduleToCron, type Schedule } from '@qpc/domain';
import { nextRunTimes } from '../schedule-preview.ts';

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
 * The presets and cron of @qpc/domain; scheduleToCron() and then the scheduler's cron parser have the
 * last word on what is valid (a "0 25 * * *" would otherwise be saved and never run).
 */
export const scheduleSchema = scheduleKinds.superRefine((s, ctx) => {
  try {
    scheduleToCron(s as Schedule);
    nextRunTimes(s as Schedule, 1);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : 'invalid schedule' });
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

const name = z.string().trim().min(1, 'is required').max(100, 'at most 100 characters');
const username = z.string().trim().min(1, 'is required').max(200);
const password = z.string().min(1, 'is required').max(1000);
const network = z.string().trim().min(1, 'is required').max(100).refine((v) => !v.includes('.') && !v.startsWith('$'), {
  message: 'must not contain "." or start with "$"',
});
const reportTitlePrefix = z.string().trim().min(1, 'is required').max(300);
const urbaThreshold = z.number().gt(0).max(1);

export function createConnectorSchema(allowHttp: boolean) {
  return z.strictObject({
    name,
    url: qualysUrl(allowHttp),
    username,
    password,
    network,
    reportTitlePrefix,
    schedule: scheduleSchema.nullable().default(null),
    autoUrba: z.boolean().default(false),
    urbaDryRun: z.boolean().optional(),
    urbaThreshold: urbaThreshold.optional(),
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
    schedule: scheduleSchema.nullable().optional(),
    autoUrba: z.boolean().optional(),
    urbaDryRun: z.boolean().optional(),
    urbaThreshold: urbaThreshold.nullable().optional(),
  });
}

/** Test Credentials: any field given replaces the saved one for this test only. */
export function testCredentialsSchema(allowHttp: boolean) {
  return z.strictObject({
    url: qualysUrl(allowHttp).optional(),
    username: username.optional(),
    password: password.optional(),
    reportTitlePrefix: reportTitlePrefix.optional(),
  });
}

export const idParams = z.object({ id: z.string().min(1).max(200) });
