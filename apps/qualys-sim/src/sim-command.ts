/**
 * The simulator's command line: `qpc sim` and `node apps/qualys-sim/src/main.ts` take the same arguments
 * (--port P [--scenario FILE] [--host H]) and run the Qualys API simulator until interrupted.
 */
import { parseArgs } from 'node:util';
import { startSimulator } from '@qpc/qualys-sim';

export const summary = 'run the Qualys API simulator (development tool): --port P [--scenario FILE] [--host H]';

const usage = (name: string) => `usage: ${name} --port P [--scenario FILE] [--host H]   (host default 127.0.0.1; port default 0 = a free port)`;

export async function run(argv: string[], name = 'qpc sim'): Promise<number> {
  let values: { port?: string; scenario?: string; host?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { port: { type: 'string', short: 'p' }, scenario: { type: 'string', short: 's' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (err) {
    console.error(`${name}: ${(err as Error).message}\n${usage(name)}`);
    return 2;
  }
  if (values.help) {
    console.log(usage(name));
    return 0;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`${name}: --port must be 0-65535, got "${values.port ?? ''}"\n${usage(name)}`);
    return 2;
  }
  const host = values.host ?? '127.0.0.1';
  let sim;
  try {
    sim = await startSimulator({ port, host, ...(values.scenario ? { scenario: values.scenario } : {}) });
  } catch (err) {
    console.error(`${name}: ${(err as Error).message}`);
    return 1;
  }
  const reports = sim.scenario.reports;
  console.log(`Qualys API simulator listening at ${sim.url}`);
  console.log(`  user: ${sim.scenario.user.login} (password from the scenario${values.scenario ? '' : '; the built-in demo scenario uses "demo"'})`);
  console.log(`  scenario: ${values.scenario ?? 'built-in demo'} (${reports.length} reports: ${reports.map((r) => `${r.id} ${r.state}`).join(', ')})`);
  console.log('  WARNING: this is a development tool serving simulated data; it is not Qualys and not for production use.');
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1')
    console.log(`  WARNING: bound to ${host}, not loopback: anyone who can reach this address can use it.`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sim.close();
  console.log('simulator stopped');
  return 0;
}
