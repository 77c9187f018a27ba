import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A real HTTP server on port 0, closed on teardown. */
export async function httpServer(t: Teardown, handler: http.RequestListener): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** A debug-level pino logger whose lines are kept in memory. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, dest), lines };
}

export async function sha256Of(body: AsyncIterable<Buffer | string>): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of body) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    bytes += b.length;
    h.update(b);
  }
  return { sha256: h.digest('hex'), bytes };
}

export function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Read a body to the end, keeping what was read even when it fails. */
export async function drain(body: AsyncIterable<Buffer | string>): Promise<{ got: Buffer; error: unknown }> {
  const parts: Buffer[] = [];
  try {
    for await (const c of body) parts.push(typeof c === 'string' ? Buffer.from(c) : c);
    return { got: Buffer.concat(parts), error: undefined };
  } catch (error) {
    return { got: Buffer.concat(parts), error };
  }
}

export const FAST = { backoffBaseMs: 20, backoffMaxMs: 200 } as const;
