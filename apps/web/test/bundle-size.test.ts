/** The console's build: the first page's JavaScript within its 350 KB (gzipped) budget, measured on a fresh build. */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildWeb, webFirstPageSize } from '../../../scripts/apps.mjs';

const BUDGET = 350 * 1024;
const out = mkdtempSync(path.join(tmpdir(), 'qpc-web-size-'));
t.teardown(() => rmSync(out, { recursive: true, force: true }));

t.test('the first page loads at most 350 KB of gzipped JavaScript', async (t) => {
  await buildWeb({ outDir: out });
  const size = webFirstPageSize(out);
  t.ok(size.files.length >= 1, `the page loads ${size.files.join(', ')}`);
  t.comment(`first page JavaScript: ${(size.gzip / 1024).toFixed(1)} KB gzipped (budget 350 KB), ${(size.raw / 1024).toFixed(1)} KB raw`);
  t.ok(size.gzip <= BUDGET, `${(size.gzip / 1024).toFixed(1)} KB <= 350 KB`);
  t.ok(size.gzip > 10 * 1024, 'the measure found the app (React alone is ~60 KB gzipped)');
  const html = readFileSync(path.join(out, 'index.html'), 'utf8');
  t.match(html, /<div id="root"><\/div>/);
  // the session is a cookie: nothing in the console writes to localStorage (the router alone uses sessionStorage, for scroll positions)
  for (const f of size.files) t.notMatch(readFileSync(path.join(out, f.replace(/^\//, '')), 'utf8'), /localStorage/, `${f} never touches localStorage`);
});
