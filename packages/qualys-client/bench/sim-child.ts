/**
 * The simulator in its own process for the download benchmark (so generating the report does not share a
 * core with the client being measured). Serves one report of BENCH_BYTES; takes faults over IPC.
 */
import { benchSpec, startSimulator, type Faults, type Scenario } from '@qpc/qualys-sim';

const spec = benchSpec(Number(process.env.BENCH_BYTES ?? 200e6), { id: '9001' });
const now = Date.now();
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const scenario: Scenario = {
  user: { login: 'bench', password: 'bench' },
  pcModule: true,
  launchFinishAfterMs: 1000,
  reports: [{ ...spec, type: 'Policy', state: 'Finished', outputFormat: 'XML', launchedAt: iso(now - 3600e3), expiresAt: iso(now + 86400e3), derivedFrom: null }],
};
const sim = await startSimulator({ scenario });
process.on('message', (m: { faults: Faults | null }) => {
  sim.setFaults(m.faults, '9001');
  process.send?.({ ok: true });
});
process.on('disconnect', () => {
  void sim.close().then(() => process.exit(0));
});
process.send?.({ url: sim.url });
