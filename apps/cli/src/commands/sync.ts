/**
 * `qpc sync <name|id> [--reingest] [--no-wait] [--json]`: starts a sync over the REST API (or joins
 * the one running) and, unless --no-wait, follows its runs until each has ended. Exit code 0 when
 * every run succeeded or found no new report, 1 otherwise.
 */
import { parseArgs } from 'node:util';
import { ApiCallError, apiClient, findConnector } from './connectors.ts';

export const summary = 'sync a connector now (over the REST API) and follow its runs';

const USAGE = 'usage: qpc sync <name|id> [--reingest] [--no-wait] [--timeout SECONDS] [--json] [--api URL]';
const TERMINAL = new Set(['succeeded', 'no-new-report', 'partial', 'failed']);
const OK = new Set(['succeeded', 'no-new-report']);

interface Run {
  id: string;
  syncId: string;
  state: string;
  reportId: string | null;
  reportTitle: string | null;
  counts: Record<string, number>;
  error: { class: string; message: string } | null;
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        reingest: { type: 'boolean' },
        'no-wait': { type: 'boolean' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
        api: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    process.stderr.write(`qpc sync: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) {
    process.stderr.write(`qpc sync: one connector name or id expected\n${USAGE}\n`);
    return 2;
  }
  const timeoutMs = Number(v.timeout ?? 600) * 1000;
  try {
    const api = apiClient(v.api);
    const c = await findConnector(api, positionals[0]!);
    const s = (
      await api.call<{ jobId: string; joined: boolean; state: string }>('POST', `/api/connectors/${encodeURIComponent(c.id)}/sync`, {
        reingest: v.reingest ?? false,
      })
    ).body;
    if (!v.json) process.stdout.write(`${s.joined ? 'joined the running' : 'started a'} sync of ${c.name}: ${s.jobId}\n`);
    if (v['no-wait']) {
      if (v.json) process.stdout.write(`${JSON.stringify(s)}\n`);
      return 0;
    }
    const end = Date.now() + timeoutMs;
    let runs: Run[] = [];
    for (;;) {
      const page = (await api.call<{ items: Run[] }>('GET', `/api/connectors/${encodeURIComponent(c.id)}/runs?limit=50`)).body;
      runs = page.items.filter((r) => r.syncId === s.jobId);
      if (runs.length > 0 && runs.every((r) => TERMINAL.has(r.state))) break;
      if (Date.now() > end) {
        process.stderr.write(`qpc sync: still running after ${timeoutMs / 1000} s (${runs.map((r) => r.state).join(', ') || 'not planned yet'})\n`);
        return 1;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    if (v.json) process.stdout.write(`${JSON.stringify({ ...s, runs }, null, 2)}\n`);
    else {
      for (const r of runs.reverse()) {
        const k = r.counts ?? {};
        process.stdout.write(
          `${r.state}\t${r.reportId ?? '-'}\t${r.reportTitle ?? '-'}\thosts +${k.hostsCreated ?? 0}/~${k.hostsUpdated ?? 0}\tfindings +${k.findingsCreated ?? 0}/~${k.findingsUpdated ?? 0} closed ${k.findingsClosed ?? 0} reopened ${k.findingsReopened ?? 0}${r.error ? `\t${r.error.class}: ${r.error.message}` : ''}\n`,
        );
      }
    }
    return runs.every((r) => OK.has(r.state)) ? 0 : 1;
  } catch (err) {
    if (err instanceof ApiCallError) {
      process.stderr.write(`qpc sync: ${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
