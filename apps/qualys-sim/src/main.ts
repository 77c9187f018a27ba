/** The Qualys API simulator as a process (development tool): `node --import tsx apps/qualys-sim/src/main.ts --port P [--scenario FILE] [--host H]`. */
import { run } from './sim-command.ts';

process.exitCode = await run(process.argv.slice(2), 'qualys-sim');
