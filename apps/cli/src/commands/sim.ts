/** `qpc sim --port P [--scenario FILE] [--host H]`: the simulator app's command line, under qpc. */
export { run, summary } from '@qpc/qualys-sim-app';
