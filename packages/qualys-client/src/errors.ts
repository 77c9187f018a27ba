/**
 * Errors of the Qualys client. One base class with a stable `code`; `retryable` says whether trying the same
 * call later can succeed (a caller maps `retryable: false` to BullMQ's UnrecoverableError). Messages name
 * statuses, paths and Qualys codes, never credentials: nothing here ever receives the password or the
 * Authorization header.
 */
export type QualysErrorCode =
  | 'QUALYS_BAD_CREDENTIALS' // 401 or SIMPLE_RETURN 2000
  | 'QUALYS_API_ERROR' // SIMPLE_RETURN with a CODE (any HTTP status)
  | 'QUALYS_INTERNAL_ERROR' // GENERIC_RETURN "Internal error"
  | 'QUALYS_HTTP_ERROR' // an unexpected HTTP status without a Qualys envelope
  | 'QUALYS_REDIRECT' // a 3xx: never followed
  | 'QUALYS_RATE_LIMITED' // 409s still met after the bounded number of waits
  | 'QUALYS_HTML_PAGE' // an HTML page where XML was expected
  | 'QUALYS_UNEXPECTED_RESPONSE' // XML, but not the document the call answers with
  | 'QUALYS_UNREACHABLE' // DNS, refused, connect timeout
  | 'QUALYS_ADDRESS_REFUSED' // the host is (or resolves to) an address the policy refuses: loopback, metadata, ...
  | 'QUALYS_TLS' // certificate or TLS handshake failure
  | 'QUALYS_TIMEOUT' // headers or body timeout
  | 'QUALYS_CONNECTION_RESET' // socket closed or reset mid-call
  | 'QUALYS_TRUNCATED' // a report body still cut short after the bounded number of resumes
  | 'QUALYS_BODY_CHANGED' // a resumed or restarted download did not continue the same body
  | 'QUALYS_NO_PC_MODULE' // Policy Compliance not reachable for this account
  | 'QUALYS_BUDGET_TIMEOUT' // no slot of the subscription budget within the wait limit
  | 'QUALYS_BUDGET_UNAVAILABLE' // the shared budget (Redis) could not be reached
  | 'QUALYS_INVALID_OPTIONS'; // bad URL, plain http not allowed, ...

export interface QualysErrorOptions {
  retryable: boolean;
  cause?: unknown;
  status?: number;
  qualysCode?: number;
  qualysText?: string;
}

export class QualysError extends Error {
  readonly code: QualysErrorCode;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly qualysCode: number | undefined;
  readonly qualysText: string | undefined;

  constructor(code: QualysErrorCode, message: string, opts: QualysErrorOptions) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'QualysError';
    this.code = code;
    this.retryable = opts.retryable;
    this.status = opts.status;
    this.qualysCode = opts.qualysCode;
    this.qualysText = opts.qualysText;
  }

  /** A plain object safe to log or store (run history, API answers). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.status !== undefined ? { status: this.status } : {}),
      ...(this.qualysCode !== undefined ? { qualysCode: this.qualysCode } : {}),
    };
  }
}

/** Qualys codes that mean "too many calls": retry after waiting. */
export const LIMIT_CODES = new Set([1960, 1965]);
/** Qualys code for a bad login or password. */
export const BAD_LOGIN_CODE = 2000;

export function isQualysError(err: unknown): err is QualysError {
  return err instanceof QualysError;
}

const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
]);
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNABORTED']);

function errCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const c = (err as { code?: unknown }).code;
  if (typeof c === 'string') return c;
  return undefined;
}

/** Walk `cause` links looking for a known network error code. */
function findCode(err: unknown, set: Set<string>): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && e; i++) {
    const c = errCode(e);
    if (c && set.has(c)) return c;
    const msg = e instanceof Error ? e.message : '';
    if (set === TLS_CODES && /certificate|ssl|tls/i.test(msg)) return c ?? 'TLS';
    e = typeof e === 'object' && e !== null ? (e as { cause?: unknown }).cause : undefined;
  }
  return undefined;
}

/** A network-level error from undici or node:net turned into a QualysError (never a credential in it). */
export function fromNetworkError(err: unknown, where: string): QualysError {
  // a QualysError raised inside the connect (the address policy's lookup) may come back wrapped
  for (let e: unknown = err, i = 0; i < 5 && typeof e === 'object' && e !== null; i++, e = (e as { cause?: unknown }).cause) {
    if (e instanceof QualysError) return e;
  }
  const raw = err instanceof Error ? err.message : String(err);
  const tls = findCode(err, TLS_CODES);
  if (tls) return new QualysError('QUALYS_TLS', `TLS failure talking to ${where}: ${tls}: ${raw}`, { retryable: false, cause: err });
  const unreachable = findCode(err, UNREACHABLE_CODES);
  if (unreachable === 'ENOTFOUND' || unreachable === 'EAI_AGAIN')
    return new QualysError('QUALYS_UNREACHABLE', `cannot reach ${where}: its host name does not resolve`, { retryable: true, cause: err });
  // refused, unreachable and no answer read the same: the message must not tell a closed port from a filtered one
  if (unreachable)
    return new QualysError('QUALYS_UNREACHABLE', `cannot reach ${where}: no connection (refused, unreachable or no answer)`, { retryable: true, cause: err });
  const timeout = findCode(err, TIMEOUT_CODES);
  if (timeout) return new QualysError('QUALYS_TIMEOUT', `timed out talking to ${where}: ${timeout}`, { retryable: true, cause: err });
  const reset = findCode(err, RESET_CODES);
  if (reset)
    return new QualysError('QUALYS_CONNECTION_RESET', `connection to ${where} lost: ${reset}: ${raw}`, { retryable: true, cause: err });
  return new QualysError('QUALYS_CONNECTION_RESET', `network error talking to ${where}: ${raw}`, { retryable: true, cause: err });
}
