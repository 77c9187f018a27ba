export { createServer, PUBLIC_PATHS, type ServerDeps, type ApiServer } from './server.ts';
export { connectDeps, type WiringOptions } from './wiring.ts';
export { createClientProbe } from './qualys-probe-client.ts';
export type { QualysProbe, ProbeInput, ProbeResult } from './qualys-probe.ts';
export { BOARD_PATH } from './board.ts';
