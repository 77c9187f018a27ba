import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { Parser } from 'htmlparser2';
import type { Dispatcher } from 'undici';
import type { Lease } from './budget.ts';
import { envelopeError, htmlPageError, looksLikeHtml } from './envelopes.ts';
import { QualysError } from './errors.ts';
import { backoffMs, sleep } from './limits.ts';
import { headerText, readSmall, safeParse, type Transport } from './transport.ts';

/**
 * A report download. `body` yields the bytes of ONE report body, in order, exactly once, whatever happened
 * on the wire: a cut answer (socket error, fewer bytes than Content-Length, an XML document without its
 * closing root tag) is continued
 * - with `Range: bytes=N-` + `If-Range: <etag>` when the first answer carried a strong ETag and the server
 *   answers 206 with a Content-Range starting at N (same total, same ETag), or else
 * - by fetching again from byte 0 and replaying the first N bytes without emitting them: their SHA-256 must
 *   equal the SHA-256 of what was already emitted, or the stream fails with QUALYS_BODY_CHANGED.
 * So the consumer never has to discard anything: either the bytes it got continue seamlessly, or the stream
 * errors (retryable) and the caller starts its own sink over. Two different bodies are never spliced.
 */
export interface ReportDownload {
  body: Readable;
  contentType: string | undefined;
  /** Content-Length of the first answer, when sent */
  contentLength: number | undefined;
  etag: string | undefined;
  /** live figures; sha256 is set once the body has been read to its end */
  readonly progress: DownloadProgress;
}

export interface DownloadProgress {
  bytes: number;
  resumes: number;
  restarts: number;
  sha256: string | undefined;
}

interface Opened {
  res: Dispatcher.ResponseData;
  lease: Lease;
  chunks: AsyncIterable<Buffer>;
  /** the root element of an XML body (first answers and restarts only) */
  rootName: string | undefined;
}

const SNIFF_MAX = 64 * 1024;

/** The first element name of an XML document, fed chunk by chunk; undefined when there is none yet. */
class RootSniffer {
  root: string | undefined;
  private readonly parser = new Parser(
    {
      onopentagname: (name) => {
        this.root ??= name;
      },
    },
    { xmlMode: true },
  );
  write(chunk: Buffer): void {
    if (this.root === undefined) this.parser.write(chunk.toString('utf8'));
  }
}

async function* chain(first: Buffer[], it: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  try {
    yield* first;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await it.return?.();
  }
}

export function isStrongEtag(etag: string | undefined): etag is string {
  return !!etag && !etag.startsWith('W/') && etag.startsWith('"');
}

/** `bytes start-end/total` -> numbers (total undefined for `*`). */
export function parseContentRange(v: string | undefined): { start: number; end: number; total: number | undefined } | undefined {
  if (!v) return undefined;
  const [unit, rest] = v.trim().split(/\s+/, 2);
  if (unit !== 'bytes' || !rest) return undefined;
  const [range, total] = rest.split('/', 2);
  const [s, e] = (range ?? '').split('-', 2);
  const start = Number(s);
  const end = Number(e);
  if (!Number.isInteger(start) || !Number.isInteger(end) || s === '' || e === '') return undefined;
  const t = total === undefined || total === '*' ? undefined : Number(total);
  if (t !== undefined && !Number.isInteger(t)) return undefined;
  return { start, end, total: t };
}

export async function fetchReport(tr: Transport, id: string, signal?: AbortSignal): Promise<ReportDownload> {
  return fetchBody(tr, { path: '/api/2.0/fo/report/', params: { action: 'fetch', id }, label: `action=fetch, id=${id}` }, signal);
}

/** What fetchBody asks for: a GET whose answer is one long XML (or CSV) body. */
export interface BodyRequest {
  path: string;
  params: Record<string, string>;
  /** names the request in errors and logs (no credentials) */
  label: string;
}

/**
 * A long answer (a report, a page of compliance posture) streamed with the same guarantees as a
 * report: 409 / ToWait and retries, a cut body continued or verified-restarted (see ReportDownload).
 */
export async function fetchBody(tr: Transport, req: BodyRequest, signal?: AbortSignal): Promise<ReportDownload> {
  const { path, params } = req;
  const what = `${tr.where(path)} (${req.label})`;
  signal?.throwIfAborted();
  const ac = new AbortController();
  const onOuterAbort = () => ac.abort(signal?.reason);
  signal?.addEventListener('abort', onOuterAbort, { once: true });

  /** One answer of the report: 200 (sniffed when XML) or 206; errors, 409 and retries handled here. */
  const open = (headers: Record<string, string>, sniff: boolean): Promise<Opened> =>
    tr.withRetries(what, ac.signal, async () => {
      const { res, lease, limits } = await tr.send({ method: 'GET', path, params, headers, signal: ac.signal });
      const status = res.statusCode;
      const release = async () => {
        await lease.release();
      };
      if (status === 416 && headers.range) {
        // nothing left at that offset by the server's count: the caller falls back to a verified restart
        return { done: { res, lease, chunks: chain([], res.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>), rootName: undefined } };
      }
      if (status !== 200 && status !== 206) {
        let body: string;
        try {
          body = await readSmall(res.body, tr.limits.maxXmlBytes, what);
        } finally {
          await release();
        }
        const step = tr.errorStep(status, limits, body, what, res.headers);
        if (step) return step;
        throw new QualysError('QUALYS_HTTP_ERROR', `${what} answered HTTP ${status}`, { retryable: false, status });
      }
      const it = res.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      const first: Buffer[] = [];
      let rootName: string | undefined;
      const ct = headerText(res.headers['content-type']);
      if (sniff && status === 200 && (!ct || /xml|html/i.test(ct))) {
        const sniffer = new RootSniffer();
        let seen = 0;
        try {
          while (sniffer.root === undefined && seen < SNIFF_MAX) {
            const r = await it.next();
            if (r.done) break;
            first.push(r.value);
            seen += r.value.length;
            sniffer.write(r.value);
          }
        } catch (err) {
          await release();
          throw err;
        }
        rootName = sniffer.root;
        const head = Buffer.concat(first).toString('utf8');
        const isHtml = looksLikeHtml(ct, head) || rootName?.toLowerCase() === 'html';
        if (isHtml || rootName === 'SIMPLE_RETURN' || rootName === 'GENERIC_RETURN') {
          let rest: string;
          try {
            rest = await readSmall(chain([], it), tr.limits.maxXmlBytes, what);
          } finally {
            await release();
          }
          const text = head + rest;
          if (isHtml) throw htmlPageError(what, status, text);
          const root = safeParse(text);
          const env = root ? envelopeError(root, status, what) : undefined;
          if (env?.code === 'QUALYS_RATE_LIMITED')
            return { retryAfterMs: limits.toWaitSec !== undefined ? limits.toWaitSec * 1000 : -1, conflict: true, error: env };
          if (env?.retryable) return { retryAfterMs: -1, error: env };
          throw env ?? new QualysError('QUALYS_UNEXPECTED_RESPONSE', `${what} answered a ${rootName} envelope instead of the report`, { retryable: false, status });
        }
      }
      return { done: { res, lease, chunks: chain(first, it), rootName } };
    });

  let opened: Opened;
  try {
    opened = await open({}, true);
  } catch (err) {
    signal?.removeEventListener('abort', onOuterAbort);
    throw err;
  }
  const { res } = opened;
  const contentType = headerText(res.headers['content-type']);
  const lengthText = headerText(res.headers['content-length']);
  const contentLength = lengthText !== undefined && /^\d+$/.test(lengthText) ? Number(lengthText) : undefined;
  const etag = headerText(res.headers.etag);
  // An XML body without Content-Length is complete only once its root element is closed.
  const xmlBody = contentType ? /xml/i.test(contentType) : opened.rootName !== undefined;
  const progress: DownloadProgress = { bytes: 0, resumes: 0, restarts: 0, sha256: undefined };

  async function* generate(): AsyncGenerator<Buffer> {
    let total = contentLength;
    const hash: Hash = createHash('sha256');
    const tail = new Tail();
    let rangeUsable = isStrongEtag(etag);
    let cur: Opened | undefined = opened;
    /** bytes of a restarted answer still to replay (not emitted), and the digest they must have */
    let replay = 0;
    let replayHash: Hash | undefined;
    let replayDigest = '';
    let failuresWithoutProgress = 0;
    const sniffer = new RootSniffer();
    try {
      for (;;) {
        let cut: string | undefined;
        const before = progress.bytes;
        try {
          for await (const chunk of cur.chunks) {
            let data = chunk;
            if (replay > 0) {
              const n = Math.min(replay, data.length);
              replayHash?.update(data.subarray(0, n));
              replay -= n;
              data = data.subarray(n);
              if (replay === 0 && replayHash?.digest('hex') !== replayDigest)
                throw new QualysError('QUALYS_BODY_CHANGED', `${what}: the body fetched again differs from the part already read; start over`, { retryable: true });
              if (data.length === 0) continue;
            }
            progress.bytes += data.length;
            if (total !== undefined && progress.bytes > total)
              throw new QualysError('QUALYS_BODY_CHANGED', `${what}: more bytes than the announced ${total}; start over`, { retryable: true });
            hash.update(data);
            if (xmlBody) {
              if (sniffer.root === undefined) sniffer.write(data);
              tail.push(data);
            }
            yield data;
          }
        } catch (err) {
          if (err instanceof QualysError && err.code === 'QUALYS_BODY_CHANGED') throw err;
          if (ac.signal.aborted) throw err;
          cut = (err as Error).message;
        } finally {
          await cur.lease.release();
          cur = undefined;
        }
        if (!cut && replay > 0) cut = `ended after ${progress.bytes} bytes while replaying`;
        if (!cut && total !== undefined && progress.bytes < total) cut = `ended at ${progress.bytes} of ${total} bytes`;
        if (!cut && xmlBody && (sniffer.root === undefined || !endsWithClosingTag(tail.bytes(), sniffer.root))) {
          cut = `ended at ${progress.bytes} bytes without the end of its root element`;
          // the length it declared was not the document's: trust only what the next answers say
          total = undefined;
        }
        if (!cut) {
          progress.sha256 = hash.digest('hex');
          return;
        }
        failuresWithoutProgress = progress.bytes > before ? 1 : failuresWithoutProgress + 1;
        if (failuresWithoutProgress > tr.limits.maxBodyRetries)
          throw new QualysError('QUALYS_TRUNCATED', `${what}: body cut short (${cut}) and not recovered after ${tr.limits.maxBodyRetries} attempts`, { retryable: true });
        const wait = backoffMs(failuresWithoutProgress, Math.min(tr.limits.backoffBaseMs, 500), tr.limits.backoffMaxMs);
        tr.logger.warn({ request: req.label, at: progress.bytes, total, reason: cut, range: rangeUsable, waitMs: wait }, 'qualys report body cut short; continuing');
        tr.counters.waitedSec += wait / 1000;
        await sleep(wait, ac.signal);

        const at = progress.bytes;
        if (rangeUsable && etag) {
          const next = await open({ range: `bytes=${at}-`, 'if-range': etag }, false);
          const cr = parseContentRange(headerText(next.res.headers['content-range']));
          const nextEtag = headerText(next.res.headers.etag);
          if (
            next.res.statusCode === 206 &&
            cr &&
            cr.start === at &&
            (total === undefined || cr.total === undefined || cr.total === total) &&
            (nextEtag === undefined || nextEtag === etag)
          ) {
            total ??= cr.total;
            progress.resumes++;
            tr.counters.resumes++;
            cur = next;
            continue;
          }
          rangeUsable = false;
          if (next.res.statusCode === 200 && (nextEtag === undefined || nextEtag === etag)) {
            cur = next; // Range ignored: a whole body, replayed below
          } else {
            await drop(next);
            if (nextEtag !== undefined && nextEtag !== etag)
              throw new QualysError('QUALYS_BODY_CHANGED', `${what}: the ETag changed between answers; start over`, { retryable: true });
          }
        }
        cur ??= await open({}, false);
        if (cur.res.statusCode !== 200) {
          await drop(cur);
          throw new QualysError('QUALYS_UNEXPECTED_RESPONSE', `${what}: answered ${cur.res.statusCode} to a request without Range`, { retryable: true });
        }
        const againEtag = headerText(cur.res.headers.etag);
        const againLength = headerText(cur.res.headers['content-length']);
        if ((etag !== undefined && againEtag !== undefined && againEtag !== etag) || (total !== undefined && againLength !== undefined && Number(againLength) !== total)) {
          await drop(cur);
          throw new QualysError('QUALYS_BODY_CHANGED', `${what}: the report fetched again is not the same body; start over`, { retryable: true });
        }
        total ??= againLength !== undefined && /^\d+$/.test(againLength) ? Number(againLength) : undefined;
        replay = at;
        replayDigest = hash.copy().digest('hex');
        replayHash = createHash('sha256');
        progress.restarts++;
        tr.counters.restarts++;
      }
    } finally {
      if (cur) await drop(cur);
      signal?.removeEventListener('abort', onOuterAbort);
    }
  }

  const body = Readable.from(generate(), { objectMode: false, highWaterMark: 64 * 1024 });
  body.once('close', () => {
    if (!body.readableEnded) ac.abort(new Error('report body destroyed by its reader'));
  });
  return { body, contentType, contentLength, etag, progress };
}

async function drop(o: Opened): Promise<void> {
  try {
    await o.res.body.dump({ limit: 0 }).catch(() => undefined);
    o.res.body.destroy();
  } finally {
    await o.lease.release();
  }
}

const TAIL = 8 * 1024;

/** The last TAIL bytes of a body, kept as references to its last chunks (no copy per chunk). */
class Tail {
  private chunks: Buffer[] = [];
  private length = 0;
  push(data: Buffer): void {
    this.chunks.push(data);
    this.length += data.length;
    while (this.chunks.length > 1 && this.length - (this.chunks[0]?.length ?? 0) >= TAIL) {
      this.length -= this.chunks.shift()?.length ?? 0;
    }
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks).subarray(-TAIL);
  }
}

/**
 * Whether an XML body ends with the closing tag of its root, followed only by whitespace, comments and
 * processing instructions (all closed). A body cut short without Content-Length fails this.
 */
export function endsWithClosingTag(tail: Buffer, root: string): boolean {
  const text = tail.toString('latin1');
  const at = text.lastIndexOf(`</${root}`);
  if (at < 0) return false;
  const close = text.indexOf('>', at);
  if (close < 0) return false;
  let i = close + 1;
  for (;;) {
    while (i < text.length && ' \t\r\n'.includes(text.charAt(i))) i++;
    if (i >= text.length) return true;
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end < 0) return false;
      i = end + 3;
    } else if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i + 2);
      if (end < 0) return false;
      i = end + 2;
    } else return false;
  }
}
