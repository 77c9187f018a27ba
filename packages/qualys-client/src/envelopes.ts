import { BAD_LOGIN_CODE, LIMIT_CODES, QualysError } from './errors.ts';
import { child, children, parseXml, textAt, type XmlElement } from './xml.ts';

/** What an answer body looks like, decided before it is trusted. */
export function looksLikeHtml(contentType: string | undefined, head: string): boolean {
  if (contentType && /text\/html|application\/xhtml/i.test(contentType)) return true;
  const start = head.trimStart().slice(0, 200).toLowerCase();
  return start.startsWith('<!doctype html') || start.startsWith('<html');
}

/** The <title> of an HTML page, for an error message that says what came back. */
export function htmlTitle(html: string): string | undefined {
  const root = parseXml(html);
  const find = (el: XmlElement | undefined): XmlElement | undefined => {
    if (!el) return undefined;
    if (el.name.toLowerCase() === 'title') return el;
    for (const c of el.children) {
      const f = find(c);
      if (f) return f;
    }
    return undefined;
  };
  const t = find(root)?.text.trim();
  return t ? t.slice(0, 120) : undefined;
}

export function htmlPageError(what: string, status: number, body: string): QualysError {
  const title = htmlTitle(body);
  return new QualysError(
    'QUALYS_HTML_PAGE',
    `expected an XML answer from ${what} but got an HTML page (HTTP ${status}${title ? `, title "${title}"` : ''}): is the URL a Qualys API server?`,
    { retryable: false, status },
  );
}

export interface SimpleReturn {
  code: number | undefined;
  text: string | undefined;
  items: Record<string, string>;
}

export function readSimpleReturn(root: XmlElement): SimpleReturn {
  const resp = child(root, 'RESPONSE');
  const codeText = textAt(resp, 'CODE');
  const items: Record<string, string> = {};
  for (const item of children(child(resp, 'ITEM_LIST'), 'ITEM')) {
    const k = textAt(item, 'KEY');
    if (k) items[k] = textAt(item, 'VALUE') ?? '';
  }
  const code = codeText !== undefined && /^\d+$/.test(codeText) ? Number(codeText) : undefined;
  return { code, text: textAt(resp, 'TEXT'), items };
}

/** The error a Qualys envelope stands for, or undefined when the envelope is a success. */
export function envelopeError(root: XmlElement, status: number, what: string): QualysError | undefined {
  if (root.name === 'GENERIC_RETURN') {
    const text = textAt(child(root, 'RESPONSE'), 'TEXT') ?? textAt(root, 'RESPONSE') ?? 'Internal error';
    return new QualysError('QUALYS_INTERNAL_ERROR', `Qualys internal error from ${what} (HTTP ${status}): ${text}`, {
      retryable: true,
      status,
      qualysText: text,
    });
  }
  if (root.name !== 'SIMPLE_RETURN') return undefined;
  const sr = readSimpleReturn(root);
  if (sr.code === undefined && status < 400) return undefined;
  const label = `Qualys error ${sr.code ?? '(no code)'} from ${what} (HTTP ${status}): ${sr.text ?? ''}`.trim();
  const base = { status, qualysCode: sr.code, qualysText: sr.text };
  if (status === 401 || sr.code === BAD_LOGIN_CODE)
    return new QualysError('QUALYS_BAD_CREDENTIALS', `bad credentials: ${label}`, { ...base, retryable: false });
  if (sr.code !== undefined && LIMIT_CODES.has(sr.code))
    return new QualysError('QUALYS_RATE_LIMITED', label, { ...base, retryable: true });
  return new QualysError('QUALYS_API_ERROR', label, { ...base, retryable: status >= 500 });
}

export type ReportState = 'Submitted' | 'Running' | 'Finished' | 'Canceled' | 'Errors' | (string & {});

export interface ReportInfo {
  id: string;
  title: string;
  type: string | undefined;
  userLogin: string | undefined;
  state: ReportState | undefined;
  launchedAt: Date | undefined;
  expiresAt: Date | undefined;
  outputFormat: string | undefined;
  /** as Qualys writes it: "129.1 MB", or "-" while not ready */
  sizeText: string | undefined;
  /** sizeText in bytes when it names one (approximate for KB/MB/GB, which Qualys rounds) */
  sizeBytes: number | undefined;
}

const UNITS: Record<string, number> = { bytes: 1, byte: 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };

export function parseSize(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 2) return undefined;
  const n = Number(parts[0]);
  const unit = UNITS[(parts[1] ?? '').toLowerCase()];
  if (!Number.isFinite(n) || unit === undefined) return undefined;
  return Math.round(n * unit);
}

function parseDate(text: string | undefined): Date | undefined {
  if (!text) return undefined;
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function parseReportList(root: XmlElement): ReportInfo[] {
  const list = child(child(root, 'RESPONSE'), 'REPORT_LIST');
  return children(list, 'REPORT').flatMap((r): ReportInfo[] => {
    const id = textAt(r, 'ID');
    if (!id) return [];
    const sizeText = textAt(r, 'SIZE');
    return [
      {
        id,
        title: textAt(r, 'TITLE') ?? '',
        type: textAt(r, 'TYPE'),
        userLogin: textAt(r, 'USER_LOGIN'),
        state: textAt(r, 'STATUS', 'STATE'),
        launchedAt: parseDate(textAt(r, 'LAUNCH_DATETIME')),
        expiresAt: parseDate(textAt(r, 'EXPIRATION_DATETIME')),
        outputFormat: textAt(r, 'OUTPUT_FORMAT'),
        sizeText,
        sizeBytes: parseSize(sizeText),
      },
    ];
  });
}

export interface AboutInfo {
  /** every leaf element of the answer, by name: versions of the platform, the web app, the scanner... */
  fields: Record<string, string>;
  /** the most telling version found (WEB-VERSION or QWEB-VERSION or any *VERSION*) */
  version: string | undefined;
}

export function parseAbout(root: XmlElement): AboutInfo {
  const fields: Record<string, string> = {};
  const walk = (el: XmlElement) => {
    if (el.children.length === 0) {
      const t = el.text.trim();
      if (t) fields[el.name] = t;
    }
    el.children.forEach(walk);
  };
  walk(root);
  const version =
    fields['WEB-VERSION'] ?? fields['QWEB-VERSION'] ?? Object.entries(fields).find(([k]) => /VERSION/i.test(k))?.[1];
  return { fields, version };
}

/** The compliance policy list: ids and titles, enough to prove the PC module answers. */
/** A compliance policy of the policy list (action=list, details=Basic). */
export interface PolicyInfo {
  id: string;
  title: string;
  /** LAST_EVALUATED/DATETIME: when the policy was last evaluated (null: never) */
  lastEvaluated: Date | null;
  /** STATUS, e.g. Active */
  status: string | null;
}

export function parsePolicyList(root: XmlElement): PolicyInfo[] {
  const list = child(child(root, 'RESPONSE'), 'POLICY_LIST');
  return children(list, 'POLICY').flatMap((p) => {
    const id = textAt(p, 'ID');
    if (!id) return [];
    const evaluated = textAt(child(p, 'LAST_EVALUATED'), 'DATETIME');
    const at = evaluated ? new Date(evaluated) : null;
    return [{ id, title: textAt(p, 'TITLE') ?? '', lastEvaluated: at && !Number.isNaN(at.getTime()) ? at : null, status: textAt(p, 'STATUS') ?? null }];
  });
}
