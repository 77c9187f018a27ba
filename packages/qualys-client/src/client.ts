import type { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { LocalBudget, subscriptionId, type Budget } from './budget.ts';
import { isIP } from 'node:net';
import { addressRefused, guardedLookup, refusal, type AddressPolicy } from './address-policy.ts';
import { checkAccess, type AccessReport } from './check-access.ts';
import { fetchBody, fetchReport, type ReportDownload } from './download.ts';
import { parseAbout, parsePolicyList, parseReportList, readSimpleReturn, type AboutInfo, type PolicyInfo, type ReportInfo } from './envelopes.ts';
import { QualysError } from './errors.ts';
import { RedisBudget } from './redis-budget.ts';
import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Transport, type ClientStats, type LimitsOptions, type TimeoutsOptions } from './transport.ts';

export interface QualysClientOptions {
  /** the API server, e.g. https://qualysapi.qualys.com */
  url: string;
  username: string;
  password: string;
  /** shares the subscription budget with every process using the same Redis; without it, a local budget */
  redis?: Redis;
  /** key prefix of the budget in Redis (default "qpc") */
  keyPrefix?: string;
  logger?: Logger;
  limits?: Partial<LimitsOptions>;
  timeouts?: Partial<TimeoutsOptions>;
  /** allow a plain-http URL (the simulator, tests), and any address; https is required otherwise */
  allowHttp?: boolean;
  /** https deployments: allow private addresses (RFC 1918, CGNAT, IPv6 ULA) for a private cloud platform */
  allowPrivate?: boolean;
}

export interface ReportFilters {
  id?: string;
  state?: string;
  userLogin?: string;
  expiresBefore?: Date;
}

export interface LaunchPolicyReport {
  title: string;
  templateId: string | number;
  policyId: string | number;
  outputFormat?: 'xml' | 'csv' | 'pdf' | 'html' | 'mht';
}

/** One page of the Compliance Posture Info API (action=list, details=All, XML). */
export interface PostureRequest {
  /** the posture API's version: 2.0 or 3.0 */
  version: '2.0' | '3.0';
  /** at most 10 */
  policyIds: string[];
  /** the page's first row id (from the previous page's WARNING URL); absent: the first page */
  idMin?: string | null;
  /** incremental: only the rows whose status changed since */
  statusChangesSince?: Date | null;
  /** rows per page (truncation_limit); absent: the API's default */
  truncationLimit?: number;
}

export interface QualysClient {
  listReports(filters?: ReportFilters, opts?: { signal?: AbortSignal }): Promise<ReportInfo[]>;
  fetchReport(id: string, opts?: { signal?: AbortSignal }): Promise<ReportDownload>;
  /** the compliance policies the user can see, with when each was last evaluated */
  listPolicies(opts?: { signal?: AbortSignal }): Promise<PolicyInfo[]>;
  /** one page of compliance posture, streamed as a report is */
  fetchPosture(req: PostureRequest, opts?: { signal?: AbortSignal }): Promise<ReportDownload>;
  launchPolicyReport(spec: LaunchPolicyReport, opts?: { signal?: AbortSignal }): Promise<{ id: string }>;
  checkAccess(prefix: string, opts?: { signal?: AbortSignal }): Promise<AccessReport>;
  about(opts?: { signal?: AbortSignal }): Promise<AboutInfo>;
  /** calls made, 409s met, seconds waited...: a copy, for the run history */
  stats(): ClientStats;
  /** the budget key of this subscription (a hash: no credentials) */
  readonly subscription: string;
  close(): Promise<void>;
}

const REPORT_PATH = '/api/2.0/fo/report/';
const POLICY_PATH = '/api/2.0/fo/compliance/policy/';

function invalid(message: string): QualysError {
  return new QualysError('QUALYS_INVALID_OPTIONS', message, { retryable: false });
}

export function createQualysClient(options: QualysClientOptions): QualysClient {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw invalid('the Qualys URL is not a valid URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && options.allowHttp))
    throw invalid(`the Qualys URL must use https (got ${url.protocol})`);
  if (url.username || url.password) throw invalid('the Qualys URL must not carry credentials; pass username and password');
  if (url.search || url.hash) throw invalid('the Qualys URL must not carry a query or fragment');
  const policy: AddressPolicy = { restrict: !options.allowHttp, allowPrivate: options.allowPrivate ?? false };
  // an IP literal is never looked up, so it is checked here; a host name at every connect (guardedLookup)
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  const why = isIP(literal) ? refusal(literal, policy) : undefined;
  if (why) throw addressRefused(literal, literal, why);
  if (!options.username) throw invalid('a Qualys username is required');
  if (!options.password) throw invalid('a Qualys password is required');

  const limits: LimitsOptions = { ...DEFAULT_LIMITS, ...options.limits };
  const timeouts: TimeoutsOptions = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const logger = (options.logger ?? pino({ level: 'silent' })).child({ component: 'qualys-client', qualys: url.host });
  const subscription = subscriptionId(url.toString(), options.username);
  const budgetOpts = {
    initialConcurrency: limits.concurrency,
    maxConcurrency: limits.maxConcurrency,
    acquireTimeoutMs: limits.acquireTimeoutMs,
  };
  const budget: Budget = options.redis
    ? new RedisBudget({
        ...budgetOpts,
        redis: options.redis,
        keyPrefix: options.keyPrefix ?? 'qpc',
        subscription,
        leaseTtlMs: limits.leaseTtlMs,
        pollMs: limits.pollMs,
        logger,
      })
    : new LocalBudget(budgetOpts);
  const tr = new Transport(url, options.username, options.password, budget, limits, timeouts, logger, policy.restrict ? guardedLookup(policy) : undefined);

  const listReports = async (filters: ReportFilters = {}, opts: { signal?: AbortSignal } = {}) => {
    const params: Record<string, string> = { action: 'list' };
    if (filters.id) params.id = filters.id;
    if (filters.state) params.state = filters.state;
    if (filters.userLogin) params.user_login = filters.userLogin;
    if (filters.expiresBefore) params.expires_before_datetime = filters.expiresBefore.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const root = await tr.callXml({ method: 'GET', path: REPORT_PATH, params, signal: opts.signal });
    if (root.name !== 'REPORT_LIST_OUTPUT')
      throw new QualysError('QUALYS_UNEXPECTED_RESPONSE', `report list answered <${root.name}> instead of <REPORT_LIST_OUTPUT>`, { retryable: false });
    return parseReportList(root);
  };

  const about = async (opts: { signal?: AbortSignal } = {}) => {
    const root = await tr.callXml({ method: 'GET', path: '/msp/about.php', params: {}, signal: opts.signal });
    return parseAbout(root);
  };

  const listPolicies = async (opts: { signal?: AbortSignal } = {}) => {
    const root = await tr.callXml({ method: 'GET', path: POLICY_PATH, params: { action: 'list', details: 'Basic' }, signal: opts.signal });
    if (root.name !== 'POLICY_LIST_OUTPUT')
      throw new QualysError('QUALYS_UNEXPECTED_RESPONSE', `compliance policy list answered <${root.name}> instead of <POLICY_LIST_OUTPUT>`, { retryable: false });
    return parsePolicyList(root);
  };

  const fetchPosture = (req: PostureRequest, opts: { signal?: AbortSignal } = {}) => {
    if (req.version !== '2.0' && req.version !== '3.0') return Promise.reject(invalid(`the posture API version is 2.0 or 3.0 (got "${String(req.version).slice(0, 10)}")`));
    if (req.policyIds.length === 0 || req.policyIds.length > 10 || req.policyIds.some((p) => !/^\d+$/.test(p)))
      return Promise.reject(invalid('a posture request names 1 to 10 numeric policy ids'));
    if (req.idMin != null && !/^\d+$/.test(req.idMin)) return Promise.reject(invalid(`id_min is a number (got "${req.idMin.slice(0, 40)}")`));
    const params: Record<string, string> = {
      action: 'list',
      policy_ids: req.policyIds.join(','),
      details: 'All',
      output_format: 'xml',
      show_remediation_info: '1',
      cause_of_failure: '1',
    };
    if (req.truncationLimit !== undefined) params.truncation_limit = String(req.truncationLimit);
    if (req.idMin) params.id_min = req.idMin;
    if (req.statusChangesSince) params.status_changes_since = req.statusChangesSince.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const label = `posture ${req.version}, policies ${req.policyIds.join(',')}${req.idMin ? `, id_min=${req.idMin}` : ''}`;
    return fetchBody(tr, { path: `/api/${req.version}/fo/compliance/posture/info/`, params, label }, opts.signal);
  };

  const client: QualysClient = {
    subscription,
    listReports,
    listPolicies,
    fetchPosture,
    about,
    fetchReport: (id, opts = {}) => {
      if (!/^\d+$/.test(id)) return Promise.reject(invalid(`a report id is a number (got "${id.slice(0, 40)}")`));
      return fetchReport(tr, id, opts.signal);
    },
    async launchPolicyReport(spec, opts = {}) {
      const root = await tr.callXml({
        method: 'POST',
        path: REPORT_PATH,
        params: {
          action: 'launch',
          report_type: 'Policy',
          template_id: String(spec.templateId),
          policy_id: String(spec.policyId),
          output_format: spec.outputFormat ?? 'xml',
          report_title: spec.title,
        },
        signal: opts.signal,
      });
      const id = root.name === 'SIMPLE_RETURN' ? readSimpleReturn(root).items.ID : undefined;
      if (!id) throw new QualysError('QUALYS_UNEXPECTED_RESPONSE', 'report launch answered without the new report id', { retryable: false });
      return { id };
    },
    checkAccess: (prefix, opts = {}) => checkAccess(tr, listReports, prefix, opts.signal),
    stats: () => ({ ...tr.counters, lastLimits: { ...tr.counters.lastLimits } }),
    close: () => tr.close(),
  };
  return client;
}
