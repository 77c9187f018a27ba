import { pino, type Logger, type LoggerOptions } from 'pino';
import SonicBoom from 'sonic-boom';

export type { Logger };

/**
 * Paths the logger itself redacts, whatever the caller passes: secrets never reach a log line.
 * Connection strings are logged only through redactUrl().
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  '*.*.headers.authorization',
  'headers.authorization',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'apiToken',
  '*.apiToken',
];

export function createLogger(name: string, level = 'info', destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { app: name, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return pino(options, destination ?? stdout());
}

/**
 * stdout as pino writes it by default (asynchronously, a line at a time) but without pino's exit hook:
 * that hook writes what is still buffered in a loop that retries a broken or stalled pipe for ever, so
 * an app whose supervisor had died never exited (30 min, idle, deaf to a second SIGTERM). Here a broken
 * pipe drops the lines, and flushLogs() waits a bounded time for the rest before an exit.
 * (Synchronous writes are no answer: stdout is a non-blocking socket, and pino then sleeps 100 ms per
 * EAGAIN with the event loop stopped.)
 */
let out: { stream: SonicBoom; queued: number; written: number } | undefined;
function stdout(): SonicBoom {
  if (out) return out.stream;
  const stream = new SonicBoom({ fd: 1, sync: false, minLength: 0 });
  const state = { stream, queued: 0, written: 0 };
  const write = stream.write.bind(stream);
  stream.write = (line: string) => {
    state.queued += Buffer.byteLength(line);
    return write(line);
  };
  stream.on('write', (n: number) => (state.written += n));
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') return;
    // nobody reads any more: later lines go nowhere rather than piling up
    stream.write = () => true;
    state.written = state.queued;
  });
  out = state;
  return stream;
}

/** Wait until the lines written to stdout are out, at most timeoutMs (a stalled reader must not hold an exit). */
export async function flushLogs(timeoutMs = 1_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (out && out.written < out.queued && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

/** A URL with its user info replaced, safe to log. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'redacted';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
