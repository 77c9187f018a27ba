/**
 * `qpc parse <file|-> [--jsonl]`: checks a Policy Report file the way the connector reads it. Prints one
 * JSON object per line: with --jsonl every record (header, policy, host, finding, rejected, summary);
 * without it only header, policy, rejected and the summary (a short check). A refused report exits 1
 * with one line on stderr saying what is wrong and where. Streams the input; quiet on EPIPE (`| head`).
 */
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { parseReport, ReportError, type ReportRecord } from '@qpc/pc-report';

export const summary = 'check a Policy Report XML file (or - for stdin): records as JSON lines';

const USAGE = 'usage: qpc parse <file|-> [--jsonl]';

export async function run(argv: string[]): Promise<number> {
  const jsonl = argv.includes('--jsonl');
  const unknown = argv.filter((a) => a.startsWith('-') && a !== '-' && a !== '--jsonl');
  const files = argv.filter((a) => !a.startsWith('-') || a === '-');
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n  --jsonl  print every record (default: header, policy, rejected and summary only)\n`);
    return 0;
  }
  if (unknown.length || files.length !== 1) {
    process.stderr.write(`qpc parse: ${unknown.length ? `unknown option ${unknown[0]}` : 'one file (or -) expected'}\n${USAGE}\n`);
    return 2;
  }
  const file = files[0]!;
  const source = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 256 * 1024 });
  const label = file === '-' ? 'stdin' : file;

  const out = process.stdout;
  let closed = false;
  const onError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') closed = true;
  };
  out.on('error', onError);
  try {
    for await (const batch of parseReport(source)) {
      if (closed) break;
      let text = '';
      for (const r of batch) if (jsonl || shown(r)) text += `${JSON.stringify(r)}\n`;
      if (text && !out.write(text)) {
        await Promise.race([once(out, 'drain'), once(out, 'close')]);
      }
      if (closed) break;
    }
    return 0;
  } catch (e) {
    if (closed) return 0;
    process.stderr.write(`qpc parse: ${label}: ${describe(e)}\n`);
    return 1;
  } finally {
    if (file !== '-' && 'destroy' in source) source.destroy();
  }
}

function shown(r: ReportRecord): boolean {
  return r.type !== 'host' && r.type !== 'finding';
}

function describe(e: unknown): string {
  if (e instanceof ReportError) return `${e.code}: ${oneLine(e.message)}`;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && typeof err.code === 'string' && typeof err.message === 'string') {
    return `cannot read: ${oneLine(err.message)}`;
  }
  return oneLine(String(e));
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ');
}
