/**
 * Refusals of a whole report. Every error has a stable `code` (branch on it, never on the message) and
 * says where: `line` (1-based) and/or `byteOffset` into the input, also spelled out in the message so
 * that a one-line CLI error is enough to find the problem.
 */
export type ReportErrorCode =
  /** no bytes, or no root element at all */
  | 'EMPTY_INPUT'
  /** the root element is not a policy report (named in the message) */
  | 'NOT_A_POLICY_REPORT'
  /** a Qualys SIMPLE_RETURN / GENERIC_RETURN error envelope instead of a report */
  | 'QUALYS_ERROR'
  /** the input ends before the root element is closed explicitly (a cut download) */
  | 'TRUNCATED'
  /** nesting deeper than the limit (64) */
  | 'TOO_DEEP'
  /** one text field, attribute or token larger than the limit (1 MiB) */
  | 'FIELD_TOO_LARGE'
  /** a DOCTYPE internal subset that declares entities */
  | 'ENTITY_DECLARATION'
  /** not well-formed: mismatched closing tag, a second root element */
  | 'MALFORMED_XML'
  /** a POLICY element without an ID before its hosts or controls */
  | 'MISSING_POLICY_ID'
  /** a Compliance Posture answer expected, another root found (named in the message) */
  | 'NOT_A_POSTURE_LIST'
  /** a posture GLOSSARY with more entries than the limit (it is held in memory) */
  | 'GLOSSARY_TOO_LARGE';

export interface ReportErrorWhere {
  line?: number | null;
  byteOffset?: number | null;
  cause?: unknown;
}

export class ReportError extends Error {
  override name = 'ReportError';
  readonly code: ReportErrorCode;
  readonly line: number | null;
  readonly byteOffset: number | null;

  constructor(code: ReportErrorCode, message: string, where: ReportErrorWhere = {}) {
    super(message + describeWhere(where), where.cause === undefined ? undefined : { cause: where.cause });
    this.code = code;
    this.line = where.line ?? null;
    this.byteOffset = where.byteOffset ?? null;
  }
}

/** Qualys answered with an error envelope; callers branch on it (a rate limit is worth a retry). */
export class QualysReturnError extends ReportError {
  override name = 'QualysReturnError';
  readonly root: string;
  readonly qualysCode: string | null;
  readonly qualysText: string | null;

  constructor(root: string, qualysCode: string | null, qualysText: string | null, where: ReportErrorWhere = {}) {
    super(
      'QUALYS_ERROR',
      `Qualys returned a ${root} error envelope instead of a report: code ${qualysCode ?? '(none)'}: ${qualysText ?? '(no text)'}`,
      where,
    );
    this.root = root;
    this.qualysCode = qualysCode;
    this.qualysText = qualysText;
  }
}

function describeWhere(w: ReportErrorWhere): string {
  const parts: string[] = [];
  if (w.line != null) parts.push(`line ${w.line}`);
  if (w.byteOffset != null) parts.push(`byte ${w.byteOffset}`);
  return parts.length ? ` (at ${parts.join(', ')})` : '';
}
