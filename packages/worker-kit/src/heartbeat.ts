import { rename, writeFile } from 'node:fs/promises';

/**
 * Touch a file every intervalMs while the process considers itself healthy (e.g. its Redis connection is
 * ready). Container health checks read the file's age: workers have no HTTP port to probe.
 * Returns a stop function. No file configured: a no-op.
 */
export function startHeartbeat(file: string | undefined, isHealthy: () => boolean, intervalMs = 10_000): () => void {
  if (!file) return () => {};
  // written aside and renamed over the file, so a health check never reads a half-written (empty) file
  const tmp = `${file}.${process.pid}.tmp`;
  const beat = () => {
    if (isHealthy()) void writeFile(tmp, String(Date.now())).then(() => rename(tmp, file)).catch(() => undefined);
  };
  beat();
  const timer = setInterval(beat, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
