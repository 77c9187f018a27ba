/**
 * Horizontal scale: 3 processes of each worker kind and 2 schedulers, 4 connectors syncing at once while
 * workers are SIGKILLed at random and restarted; every network must equal the ground truth with one
 * succeeded run. Then the same 4 syncs without faults at 1, 2 and 3 processes per kind (findings/s).
 */
import { sleep } from './servers.ts';
import type { Stack } from './stack.ts';

export interface ScaleResult {
  ok: boolean;
  note: string;
  kills: number;
  throughput: { perKind: number; findings: number; seconds: number; perSecond: number }[];
}

const KINDS = ['worker-fetch', 'worker-parse', 'worker-upsert'] as const;

async function startSet(stack: Stack, perKind: number): Promise<void> {
  for (let i = 1; i <= 2; i++) await stack.start(`scheduler#${i}`);
  for (const kind of KINDS) for (let i = 1; i <= perKind; i++) await stack.start(`${kind}#${i}`);
}

/** 4 connectors synced at once; returns the problems found (empty: all equal the ground truth). */
async function fourSyncs(stack: Stack, label: string, timeoutMs: number, during?: (done: () => boolean) => Promise<void>) {
  const connectors: { id: string; network: string }[] = [];
  for (let k = 0; k < 4; k++) {
    const network = `${label}-${k}`;
    connectors.push({ id: await stack.connector(network), network });
  }
  const t0 = Date.now();
  const syncs = await Promise.all(connectors.map((c) => stack.requestSync(c.id)));
  let finished = false;
  const side = during ? during(() => finished) : Promise.resolve();
  const ended = await Promise.all(syncs.map((s) => stack.waitSync(s, timeoutMs)));
  finished = true;
  await side;
  const seconds = (Date.now() - t0) / 1000;
  const problems: string[] = [];
  if (!ended.every(Boolean)) problems.push(`${ended.filter((e) => !e).length} syncs did not end`);
  for (const c of connectors) {
    const r = await stack.check(c.id, c.network, syncs);
    const runs = await stack.store.col.runs.countDocuments({ connectorId: c.id });
    if (r.lost || r.duplicated || r.wronglyClosed || r.wronglyOpen || r.stuck || runs !== 1 || r.states.succeeded !== 1) {
      problems.push(`${c.network}: ${JSON.stringify(r)} runs ${runs}`);
    }
    await stack.clean(c.network);
  }
  return { seconds, problems };
}

export async function scaleRun(stack: Stack): Promise<ScaleResult> {
  const findings = stack.groundTruth().size * 4;
  await startSet(stack, 3);
  let kills = 0;
  // a random worker SIGKILLed every 2-5 s and started again 1 s later, until the syncs end
  const killer = async (done: () => boolean) => {
    while (!done()) {
      await sleep(2000 + Math.random() * 3000);
      if (done()) break;
      const name = `${KINDS[Math.floor(Math.random() * 3)]}#${1 + Math.floor(Math.random() * 3)}`;
      await stack.kill(name);
      kills++;
      await sleep(1000);
      await stack.start(name);
    }
  };
  const chaos = await fourSyncs(stack, 'scale-kill', 600_000, killer);
  console.log(`chaos: scale under SIGKILL: ${kills} kills, ${chaos.seconds.toFixed(1)} s${chaos.problems.length ? `; ${chaos.problems.join('; ')}` : ''}`);
  await stack.stopAll();

  const throughput: ScaleResult['throughput'] = [];
  const problems = [...chaos.problems];
  for (const perKind of [1, 2, 3]) {
    await startSet(stack, perKind);
    const r = await fourSyncs(stack, `scale-${perKind}`, 600_000);
    problems.push(...r.problems);
    throughput.push({ perKind, findings, seconds: Number(r.seconds.toFixed(1)), perSecond: Math.round(findings / r.seconds) });
    console.log(`chaos: ${perKind} per kind: ${findings} findings in ${r.seconds.toFixed(1)} s`);
    await stack.stopAll();
  }
  return { ok: problems.length === 0, note: problems.join('; '), kills, throughput };
}
