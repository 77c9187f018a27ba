import { writeFile } from 'node:fs/promises';

/**
 * Touch a file every intervalMs while the process considers itself healthy (e.g. its Redis connection is
 * ready). Container health checks read the file's age: workers have no HTTP port to probe.
 * Returns a stop function. No file configured: a no-op.
 */
export function startHeartbeat(file: string | undefined, isHealthy: () => boolean, intervalMs = 10_000): () => void {
  if (!file) return () => {};
  const beat = () => {
    if (isHealthy()) void writeFile(file, String(Date.now())).catch(() => undefined);
  };
  beat();
  const timer = setInterval(beat, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
