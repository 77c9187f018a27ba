/** A raw HTTP client for the tests: keeps the bytes received before an error, so cut bodies can be checked. */
import { request, type IncomingHttpHeaders } from 'node:http';
import { createHash } from 'node:crypto';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** the socket error that ended the body early, if any */
  error: Error | null;
  /** whether the body ended normally ('end' seen) */
  complete: boolean;
  text(): string;
}

export const AUTH = `Basic ${Buffer.from('demo:demo').toString('base64')}`;
export const STD = { 'X-Requested-With': 'qpc-test', Authorization: AUTH };

export function call(
  base: string,
  path: string,
  opts: { headers?: Record<string, string>; method?: string; body?: string; pauseMs?: number } = {},
): Promise<Answer> {
  const u = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      u,
      { method: opts.method ?? 'GET', headers: { ...(opts.headers ?? STD), ...(opts.body ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}) }, agent: false },
      (res) => {
        const parts: Buffer[] = [];
        let error: Error | null = null;
        let complete = false;
        let settled = false;
        const done = (): void => {
          if (settled) return;
          settled = true;
          const body = Buffer.concat(parts);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, error, complete, text: () => body.toString('utf8') });
        };
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          complete = true;
          done();
        });
        res.on('error', (e) => {
          error = e;
          done();
        });
        res.on('close', done);
        if (opts.pauseMs) {
          res.pause();
          setTimeout(() => res.resume(), opts.pauseMs);
        }
      },
    );
    req.on('error', reject);
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** CODE and TEXT of a SIMPLE_RETURN body */
export function simple(body: string): { root: string; code: string | null; text: string | null } {
  const root = /<([A-Z_]+)>/.exec(body.replace(/<\?xml[^>]*>|<!DOCTYPE[^>]*>/g, ''))?.[1] ?? '';
  return { root, code: /<CODE>(\d+)<\/CODE>/.exec(body)?.[1] ?? null, text: /<TEXT>([\s\S]*?)<\/TEXT>/.exec(body)?.[1] ?? null };
}
