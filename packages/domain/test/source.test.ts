/** The source setting's pure rules: posture settings, policy groups of 10, full or incremental pulls. */
import t from 'tap';
import { DEFAULT_POSTURE, normalizePosture, planPull, policyGroups, posturePolicyIds, POSTURE_SAFETY_MARGIN_MS } from '../src/index.ts';

t.test('posture settings: defaults, ids normalized, each bad field named', async (t) => {
  t.same(normalizePosture(undefined), { policyIds: null, apiVersion: '2.0', fullEvery: 24 });
  t.same(normalizePosture({ policyIds: [' 12', '7', '12'] }), { ...DEFAULT_POSTURE, policyIds: ['12', '7'] }, 'trimmed, deduplicated, order kept');
  const bad: [unknown, string][] = [
    [{ policyIds: ['x1'] }, 'posture.policyIds'],
    [{ policyIds: [] }, 'posture.policyIds'],
    [{ policyIds: Array.from({ length: 1001 }, (_, i) => String(i)) }, 'posture.policyIds'],
    [{ apiVersion: '1.0' }, 'posture.apiVersion'],
    [{ fullEvery: 0 }, 'posture.fullEvery'],
    [{ fullEvery: 2.5 }, 'posture.fullEvery'],
  ];
  for (const [input, field] of bad) {
    t.throws(() => normalizePosture(input as never), { name: 'SourceError', field }, `${JSON.stringify(input).slice(0, 60)}: ${field}`);
  }
});

t.test('policies asked for: the configured ones or every visible one, in groups of at most 10', async (t) => {
  t.same(posturePolicyIds({ ...DEFAULT_POSTURE, policyIds: null }, ['30', '4', '100']), ['4', '30', '100'], 'every visible one, numeric order');
  t.same(posturePolicyIds({ ...DEFAULT_POSTURE, policyIds: ['9'] }, ['4', '9']), ['9']);
  const ids = Array.from({ length: 23 }, (_, i) => String(i + 1));
  t.same(policyGroups(ids).map((g) => g.length), [10, 10, 3]);
  t.same(policyGroups(ids).flat(), ids);
});

t.test('full or incremental', async (t) => {
  const last = new Date('2026-12-01T10:00:00Z');
  const settings = { fullEvery: 3 };
  t.match(planPull({ lastSuccessStart: null, incrementalSinceFull: 0, fullCovers: false }, settings), { kind: 'full', since: null }, 'nothing yet: full');
  t.match(planPull({ lastSuccessStart: last, incrementalSinceFull: 0, fullCovers: false }, settings), { kind: 'full' }, 'a policy no full pull covered: full');
  const inc = planPull({ lastSuccessStart: last, incrementalSinceFull: 2, fullCovers: true }, settings);
  t.equal(inc.kind, 'incremental');
  t.equal(inc.since?.getTime(), last.getTime() - POSTURE_SAFETY_MARGIN_MS, 'since the last start minus the margin');
  t.match(planPull({ lastSuccessStart: last, incrementalSinceFull: 3, fullCovers: true }, settings), { kind: 'full' }, 'after fullEvery incremental pulls: full');
  t.match(planPull({ lastSuccessStart: last, incrementalSinceFull: 0, fullCovers: true }, settings, { forceFull: true }), { kind: 'full' }, 're-ingest: full');
});
