/** GET /api/findings/export.csv: the same findings as the list under each filter, RFC 4180, no formulas. */
import t from 'tap';
import type { FindingDoc } from '@qpc/store/db';
import { VIEWER, startApi } from './helpers.ts';
import { makeFindings, makeHosts, seedInventory } from './fixtures.ts';

const api = await startApi(t);
const hosts = makeHosts(12);
const findings = makeFindings(hosts);
const tricky: Partial<FindingDoc>[] = [
  { title: '=HYPERLINK("http://evil.example","click")', actual: '-1', expected: '+cmd|calc', instance: '@SUM(A1)' },
  { title: 'comma, and "quotes"', actual: 'line one\r\nline two', expected: '\tTabbed', instance: 'plain é ü 漢' },
];
tricky.forEach((over, i) => Object.assign(findings[i]!, over));
await seedInventory(api.deps.store, hosts, findings);

/** A reader written from RFC 4180 itself: quoted fields, doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += ch;
  }
  if (cell !== '' || row.length) throw new Error('the last record does not end with CRLF');
  return rows;
}

async function listIds(query: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const r = await api.call('GET', `/api/findings?${query}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: VIEWER });
    ids.push(...r.json.items.map((i: { id: string }) => i.id));
    cursor = r.json.next;
  } while (cursor);
  return ids;
}

t.test('every finding of a filter, one row each, a header first', async (t) => {
  for (const query of ['', 'status=Open', 'severity=High&network=net-a', 'tag=PCI&testStatus=Failed', 'severity=Unset']) {
    const r = await api.call('GET', `/api/findings/export.csv?${query}`, { token: VIEWER });
    t.equal(r.status, 200, query);
    t.match(r.headers.get('content-type') ?? '', /^text\/csv; charset=utf-8/);
    t.match(r.headers.get('content-disposition') ?? '', /attachment; filename="findings\.csv"/);
    const rows = parseCsv(r.text);
    const header = rows[0]!;
    t.equal(header[0], 'id');
    t.ok(header.includes('controlId') && header.includes('actual') && header.includes('tags'));
    t.ok(rows.every((row) => row.length === header.length), `${query}: every row has ${header.length} cells`);
    const ids = rows.slice(1).map((row) => row[0]);
    t.same(ids, await listIds(query), `${query || 'no filter'}: the list's findings (${ids.length})`);
    t.ok(ids.length > 0);
  }
  const bad = await api.call('GET', '/api/findings/export.csv?severity=Huge', { token: VIEWER });
  t.equal(bad.status, 400);
  t.equal(bad.json.error.code, 'VALIDATION_FAILED');
  t.equal((await api.call('GET', '/api/findings/export.csv', { token: null })).status, 401);
});

t.test('quoting round-trips and formula cells are neutralised', async (t) => {
  const r = await api.call('GET', '/api/findings/export.csv', { token: VIEWER });
  const rows = parseCsv(r.text);
  const header = rows[0]!;
  const col = (row: string[], name: string) => row[header.indexOf(name)];
  const first = rows.find((row) => row[0] === findings[0]!._id)!;
  t.equal(col(first, 'title'), `'=HYPERLINK("http://evil.example","click")`);
  t.equal(col(first, 'actual'), "'-1");
  t.equal(col(first, 'expected'), "'+cmd|calc");
  t.equal(col(first, 'instance'), "'@SUM(A1)");
  const second = rows.find((row) => row[0] === findings[1]!._id)!;
  t.equal(col(second, 'title'), 'comma, and "quotes"');
  t.equal(col(second, 'actual'), 'line one\r\nline two', 'line breaks kept inside quotes');
  t.equal(col(second, 'expected'), "'\tTabbed");
  t.equal(col(second, 'instance'), 'plain é ü 漢');
  t.equal(col(second, 'tags'), findings[1]!.tags.join(';'));
  t.equal(col(second, 'firstSeen'), '2026-11-01T00:00:00.000Z');
  t.match(r.text, /^id,network,/);
});
