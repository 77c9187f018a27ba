/** Hostile and broken answers get the refusals of reports: a ReportError with a stable code, line and byte. */
import t, { type Test } from 'tap';
import { readdirSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QualysReturnError, ReportError } from '@qpc/pc-report';
import { parsePostureToArray } from '../src/parse-posture.ts';
import type { PostureSummaryRecord } from '../src/records.ts';
import { answer, chunks } from './build.ts';

const GOOD = answer({
  rows: [{ id: '1', hostId: '98001', controlId: '1001', techId: '91', instance: 'os', status: 'Passed', policyId: '1234' }],
  hosts: [{ id: '98001', ip: '10.0.0.1' }],
  controls: [{ id: '1001', statement: 'A statement' }],
  techs: [['91', 'Windows Server 2019']],
});

const tmp = mkdtempSync(path.join(tmpdir(), 'qpc-posture-refusals-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

async function refusal(t: Test, input: string | Buffer, code: string, message: RegExp, where: { line?: number; byteOffset?: number } = {}) {
  const err = await parsePostureToArray(chunks(input, 4096), { tmpDir: tmp }).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof ReportError, `refused with a ReportError (${code})`);
  if (!(err instanceof ReportError)) return null;
  t.equal(err.code, code);
  t.match(err.message, message);
  if (where.line !== undefined) t.equal(err.line, where.line, 'line');
  if (where.byteOffset !== undefined) t.equal(err.byteOffset, where.byteOffset, 'byte offset');
  t.same(readdirSync(tmp), [], 'the staged rows are removed');
  return err;
}

t.test('the good answer parses (the inputs below differ from it in one way)', async (t) => {
  const recs = await parsePostureToArray(chunks(GOOD), { tmpDir: tmp });
  t.equal((recs.at(-1) as PostureSummaryRecord).findings, 1);
});

t.test('a DOCTYPE that declares entities is refused', async (t) => {
  const bomb = GOOD.replace(/<!DOCTYPE[^>]*>/, '<!DOCTYPE POSTURE_INFO_LIST_OUTPUT [\n<!ENTITY a "aaaaaaaaaa">\n<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n]>');
  await refusal(t, bomb, 'ENTITY_DECLARATION', /declares entities.*line 2/, { line: 2 });
});

t.test('nesting deeper than 64 is refused', async (t) => {
  const deep = GOOD.replace('<GLOSSARY>', `<GLOSSARY>${'<X>'.repeat(70)}${'</X>'.repeat(70)}`);
  await refusal(t, deep, 'TOO_DEEP', /nested deeper than 64 levels/);
});

t.test('a field, a CDATA section or an attribute over 1 MiB is refused', async (t) => {
  const big = 'x'.repeat(1024 * 1024 + 10);
  await refusal(t, GOOD.replace('<![CDATA[A statement]]>', big), 'FIELD_TOO_LARGE', /text of <STATEMENT> is larger than 1 MiB/);
  await refusal(t, GOOD.replace('A statement', big), 'FIELD_TOO_LARGE', /larger than 1 MiB/);
  await refusal(t, GOOD.replace('<GLOSSARY>', `<GLOSSARY><NOTE>${big}</NOTE>`), 'FIELD_TOO_LARGE', /text of <NOTE>/, { line: 11 });
  await refusal(t, GOOD.replace('<INFO>', `<INFO x="${big}">`), 'FIELD_TOO_LARGE', /attribute x of <INFO>/);
});

t.test('a cut answer is refused wherever it is cut, and no record comes out', async (t) => {
  const buf = Buffer.from(GOOD);
  await refusal(t, buf.subarray(0, buf.indexOf('<GLOSSARY>') + 20), 'TRUNCATED', /<POSTURE_INFO_LIST_OUTPUT> is closed.*still open: .*GLOSSARY/);
  const end = buf.indexOf('</POSTURE_INFO_LIST_OUTPUT>') + '</POSTURE_INFO_LIST_OUTPUT>'.length;
  let refused = 0;
  for (let n = 1; n < end; n += 7) {
    const err = await parsePostureToArray(chunks(buf.subarray(0, n)), { tmpDir: tmp }).then(
      () => null,
      (e: unknown) => e,
    );
    if (err instanceof ReportError && (err.code === 'TRUNCATED' || err.code === 'EMPTY_INPUT')) refused++;
  }
  t.equal(refused, Math.ceil((end - 1) / 7), 'every prefix is refused');
});

t.test('not well-formed: a mismatched closing tag, a second root', async (t) => {
  await refusal(t, GOOD.replace('</HOST_LIST>', '</HOSTS>'), 'MALFORMED_XML', /closing tag <\/HOSTS> where <HOST_LIST>/);
  await refusal(t, `${GOOD}<POSTURE_INFO_LIST_OUTPUT></POSTURE_INFO_LIST_OUTPUT>`, 'MALFORMED_XML', /second root element/);
});

t.test('another root is named; Qualys error envelopes carry their code and text', async (t) => {
  await refusal(t, '<?xml version="1.0"?>\n<COMPLIANCE_POLICY_REPORT></COMPLIANCE_POLICY_REPORT>', 'NOT_A_POSTURE_LIST', /<COMPLIANCE_POLICY_REPORT>: a policy report.*line 2/, { line: 2, byteOffset: 22 });
  await refusal(t, '<!DOCTYPE html>\n<html><body>Maintenance</body></html>', 'NOT_A_POSTURE_LIST', /<html>: an HTML page/);
  const simple = '<?xml version="1.0"?>\n<SIMPLE_RETURN><RESPONSE><CODE>1965</CODE><TEXT>Rate limit exceeded</TEXT></RESPONSE></SIMPLE_RETURN>';
  const e = await refusal(t, simple, 'QUALYS_ERROR', /code 1965: Rate limit exceeded/);
  t.ok(e instanceof QualysReturnError);
  if (e instanceof QualysReturnError) t.equal(e.qualysCode, '1965');
  await refusal(t, '', 'EMPTY_INPUT', /empty/);
  await refusal(t, 'just text', 'EMPTY_INPUT', /no XML root element in 9 bytes/);
});

t.test('invalid UTF-8 is counted and decoded as U+FFFD, not fatal', async (t) => {
  const buf = Buffer.from(GOOD.replace('A statement', 'Bad byte: @'));
  buf[buf.indexOf('@')] = 0xff;
  const recs = await parsePostureToArray(chunks(buf, 3), { tmpDir: tmp });
  const s = recs.at(-1) as PostureSummaryRecord;
  t.equal(s.invalidUtf8, 1);
  t.match(recs.find((r) => r.type === 'finding'), { statement: 'Bad byte: \uFFFD' });
});

t.test('characters XML does not allow (U+0000-U+0003) cannot shift the staged fields of a row', async (t) => {
  const xml = answer({
    rows: [{ id: '1', hostId: '98001', controlId: '1001', techId: '91', instance: 'a\u0000b\u0001c\u0002d\u0003e', status: 'Passed', policyId: '1234' }],
    hosts: [{ id: '98001', ip: '10.0.0.1' }],
    controls: [{ id: '1001', statement: 'A statement' }],
    techs: [['91', 'Windows Server 2019']],
  });
  const recs = await parsePostureToArray(chunks(xml), { tmpDir: tmp });
  t.match(recs.find((r) => r.type === 'finding'), { instance: 'a\uFFFDb\uFFFDc\uFFFDd\uFFFDe', testStatus: 'Passed', controlId: '1001', technology: 'Windows Server 2019' });
});

t.test('a glossary larger than the limit is refused (it is held in memory)', async (t) => {
  const hosts = Array.from({ length: 40 }, (_, i) => ({ id: String(98001 + i), ip: `10.0.0.${i + 1}` }));
  const xml = answer({ rows: [], hosts });
  const err = await parsePostureToArray(chunks(xml), { tmpDir: tmp, maxGlossaryEntries: 30 }).catch((e: unknown) => e);
  t.ok(err instanceof ReportError && err.code === 'GLOSSARY_TOO_LARGE', 'refused');
  t.match((err as Error).message, /more than 30 elements and values.*line \d+/);
  const ok = await parsePostureToArray(chunks(xml), { tmpDir: tmp, maxGlossaryEntries: 41 }); // 40 HOST and their HOST_LIST
  t.equal((ok.at(-1) as PostureSummaryRecord).rows, 0, 'within the limit it parses');
});
