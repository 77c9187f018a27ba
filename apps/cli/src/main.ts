/**
 * `qpc <command> [args]`: ops and developer commands. Each command lives in src/commands/<name>.ts and
 * exports `run(argv: string[]): Promise<number>` (the exit code) and a one-line `summary`.
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

interface Command {
  run(argv: string[]): Promise<number>;
  summary: string;
}

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'commands');

async function commandNames(): Promise<string[]> {
  const files = await readdir(dir).catch(() => [] as string[]);
  return files.filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort();
}

async function load(name: string): Promise<Command> {
  return (await import(path.join(dir, `${name}.ts`))) as Command;
}

async function usage(): Promise<string> {
  const lines = ['usage: qpc <command> [args]', '', 'commands:'];
  for (const name of await commandNames()) lines.push(`  ${name.padEnd(12)} ${(await load(name)).summary}`);
  return lines.join('\n');
}

const [name, ...rest] = process.argv.slice(2);
if (!name || name === '--help' || name === '-h' || name === 'help') {
  console.log(await usage());
  process.exitCode = name ? 0 : 2;
} else if (!(await commandNames()).includes(name)) {
  console.error(`qpc: unknown command "${name}"\n\n${await usage()}`);
  process.exitCode = 2;
} else {
  process.exitCode = await (await load(name)).run(rest);
}
