/** The Test Credentials probe over @qpc/qualys-client, sharing the subscription budget through Redis. */
import type { Redis } from 'ioredis';
import { createQualysClient, isQualysError } from '@qpc/qualys-client';
import type { Logger } from '@qpc/worker-kit';
import type { ProbePolicy, ProbeResult, ProbeStep, QualysProbe } from './qualys-probe.ts';

/** Which step a client error belongs to: the report list proves the login, the policy list proves PC. */
function stepOf(code: string): ProbeStep {
  if (code === 'QUALYS_NO_PC_MODULE') return 'policyCompliance';
  return 'login';
}

const NO_ANSWER = new Set(['QUALYS_UNREACHABLE', 'QUALYS_TIMEOUT', 'QUALYS_CONNECTION_RESET']);

const originOf = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    return 'its URL';
  }
};

export function createClientProbe(opts: { redis?: Redis; keyPrefix?: string; logger?: Logger; timeoutMs?: number }): QualysProbe {
  return async (input): Promise<ProbeResult> => {
    let client: ReturnType<typeof createQualysClient> | undefined;
    try {
      client = createQualysClient({
        url: input.url,
        username: input.username,
        password: input.password,
        allowHttp: input.allowHttp,
        allowPrivate: input.allowPrivate,
        ...(opts.redis ? { redis: opts.redis } : {}),
        ...(opts.keyPrefix ? { keyPrefix: opts.keyPrefix } : {}),
        ...(opts.logger ? { logger: opts.logger } : {}),
      });
      const signal = AbortSignal.timeout(opts.timeoutMs ?? 60_000);
      const access = await client.checkAccess(input.reportTitlePrefix, { signal });
      const reports = access.reports.map((r) => ({
          id: r.id,
          title: r.title,
          type: r.type ?? null,
          state: r.state ?? null,
          size: r.sizeText ?? null,
          sizeBytes: r.sizeBytes ?? null,
          launchedAt: r.launchedAt ? r.launchedAt.toISOString() : null,
        }));
      if (input.source !== 'posture') return { ok: true, checks: { login: 'ok', policyCompliance: 'ok', reports: 'ok' }, reports };
      // posture: the policies the user can see, when each was last evaluated, and which the connector pulls
      const wanted = input.policyIds ? new Set(input.policyIds) : null;
      const listed = await client.listPolicies({ signal });
      const policies: ProbePolicy[] = listed.map((p) => ({
        id: p.id,
        title: p.title,
        lastEvaluatedAt: p.lastEvaluated ? p.lastEvaluated.toISOString() : null,
        status: p.status,
        selected: wanted ? wanted.has(p.id) : true,
      }));
      const visible = new Set(listed.map((p) => p.id));
      const missing = input.policyIds ? input.policyIds.filter((id) => !visible.has(id)) : [];
      if (missing.length > 0 || policies.length === 0) {
        return {
          ok: false,
          failedAt: 'policies',
          checks: { login: 'ok', policyCompliance: 'ok', reports: 'ok', policies: 'failed' },
          error: missing.length > 0
            ? { code: 'POSTURE_POLICY_NOT_VISIBLE', message: `this user cannot see the policies ${missing.slice(0, 20).join(', ')}: remove them, or give the user access in Qualys` }
            : { code: 'POSTURE_NO_POLICY', message: 'this user can see no compliance policy: there is no posture to pull' },
          reports: [],
          policies,
        };
      }
      return { ok: true, checks: { login: 'ok', policyCompliance: 'ok', reports: 'ok', policies: 'ok' }, reports, policies };
    } catch (err) {
      const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      // refused, unreachable, reset or silent read the same, so Test Credentials cannot map open ports
      const noAnswer = timeout || (isQualysError(err) && NO_ANSWER.has(err.code));
      const code = noAnswer ? 'QUALYS_UNREACHABLE' : isQualysError(err) ? err.code : 'QUALYS_ERROR';
      // QualysError messages name statuses, paths and Qualys codes, never credentials; others are not echoed
      const message = noAnswer
        ? `cannot reach the Qualys API at ${originOf(input.url)}: no connection or no answer`
        : isQualysError(err)
          ? err.message
          : 'unexpected error while testing the credentials';
      if (!isQualysError(err)) opts.logger?.warn({ err: { name: (err as Error)?.name } }, 'test credentials failed unexpectedly');
      const failedAt = stepOf(code);
      return {
        ok: false,
        failedAt,
        checks: failedAt === 'login'
          ? { login: 'failed', policyCompliance: 'not-run', reports: 'not-run' }
          : { login: 'ok', policyCompliance: 'failed', reports: 'not-run' },
        error: { code, message },
        reports: [],
      };
    } finally {
      await client?.close().catch(() => undefined);
    }
  };
}
