import { flushLogs, type Logger } from './logger.ts';

export type Closer = { name: string; close: () => Promise<unknown> };

export class ShutdownTimeoutError extends Error {
  readonly code = 'SHUTDOWN_TIMEOUT';
  constructor(readonly pending: string[], ms: number) {
    super(`shutdown did not finish within ${ms} ms; still closing: ${pending.join(', ')}`);
    this.name = 'ShutdownTimeoutError';
  }
}

/**
 * Close everything in order (workers first so active jobs finish, connections last), but never wait
 * longer than timeoutMs: a job that does not finish in time is left to BullMQ's stalled-job check,
 * which hands it to another worker.
 */
export async function closeAll(closers: Closer[], timeoutMs: number, logger?: Logger): Promise<void> {
  const pending = new Set(closers.map((c) => c.name));
  let timer: NodeJS.Timeout | undefined;
  const work = (async () => {
    for (const c of closers) {
      try {
        await c.close();
      } catch (err) {
        logger?.warn({ err, closer: c.name }, 'error while closing');
      }
      pending.delete(c.name);
    }
  })();
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ShutdownTimeoutError([...pending], timeoutMs)), timeoutMs);
  });
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Install SIGINT/SIGTERM handlers that close everything once, within timeoutMs (then exit 1 anyway); a
 * second signal exits at once. A process started with an IPC channel (scripts/start.mjs starts the apps
 * so) also shuts down when that channel closes: its parent is gone, even SIGKILLed, and nothing would
 * ever stop it otherwise.
 * Returns the function that performs the shutdown (also usable programmatically).
 */
export function onShutdown(
  closers: () => Closer[],
  opts: { timeoutMs: number; logger: Logger; exit?: (code: number) => void },
): (reason: string) => Promise<void> {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let started: Promise<void> | undefined;
  const shutdown = (reason: string) => {
    if (started) return started;
    opts.logger.info({ reason }, 'shutting down');
    started = closeAll(closers(), opts.timeoutMs, opts.logger)
      .then(
        () => {
          opts.logger.info('shut down cleanly');
          return 0;
        },
        (err: unknown) => {
          opts.logger.error({ err }, 'shutdown incomplete');
          return 1;
        },
      )
      .then(async (code) => {
        await flushLogs();
        exit(code);
      });
    return started;
  };
  let signals = 0;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      signals += 1;
      if (signals > 1) {
        opts.logger.warn({ signal: sig }, 'second signal: exiting now');
        exit(130);
        return;
      }
      void shutdown(sig);
    });
  }
  if (process.channel) {
    process.once('disconnect', () => void shutdown('parent exited'));
    // after the listener (adding one refs the channel): the channel alone must not keep the process alive
    process.channel.unref();
  }
  return shutdown;
}
