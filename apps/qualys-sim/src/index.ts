export { run, summary } from './sim-command.ts';
