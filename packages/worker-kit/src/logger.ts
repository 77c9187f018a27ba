import { pino, type Logger, type LoggerOptions } from 'pino';

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
  // stdout written synchronously: pino's default asynchronous stdout flushes its buffer at exit in a loop
  // that retries a broken pipe for ever, so an app whose supervisor died never exited (30 min, idle)
  return pino(options, destination ?? pino.destination({ dest: 1, sync: true }));
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
