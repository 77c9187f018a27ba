/** The same records whatever the chunk boundaries; multibyte characters and invalid UTF-8. */
import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import { finding, fixture, header, host, parse, summary } from './helpers.ts';

t.test('multibyte characters and invalid UTF-8 (hand-written records)', async (t) => {
  const buf = fixture('multibyte.xml');
  const expected = [
    header({ root: 'POLICY_REPORT', title: 'Rapport de conformit\u00e9 \u2013 \u6771\u4eac \u{1F680}' }),
    { type: 'policy', policyId: '5', policyTitle: '\u041f\u043e\u043b\u0438\u0442\u0438\u043a\u0430 \u2713 \uFFFD real replacement char' },
    host({ hostKey: 'ip:10.0.0.1', policyId: '5', ip: '10.0.0.1', dns: 'h\u00f4te-\u{1F680}.example', hostname: 'h\u00f4te-\u{1F680}.example', tags: ['bad \uFFFD byte', 'cut \uFFFD seq'] }),
    finding({
      hostKey: 'ip:10.0.0.1',
      ip: '10.0.0.1',
      policyId: '5',
      policyTitle: '\u041f\u043e\u043b\u0438\u0442\u0438\u043a\u0430 \u2713 \uFFFD real replacement char',
      controlId: '1',
      statement: '\u{1D518}\u{1D52B}\u{1D526}\u{1D520}\u{1D52C}\u{1D521}\u{1D522} \u00bd \u00df',
      testStatus: 'Passed',
      status: 'Closed',
    }),
    summary({ hosts: 1, findings: 1, passed: 1, policies: 1, bytes: buf.length, invalidUtf8: 2 }),
  ];
  t.strictSame(await parse(buf), expected, 'whole');
  t.strictSame(await parse(buf, {}, 1), expected, '1-byte chunks');
  let same = 0;
  for (let cut = 1; cut < buf.length; cut++) {
    const got = await parse(buf, {}, cut, buf.length);
    if (isDeepStrictEqual(got, expected)) same++;
    else t.strictSame(got, expected, `split at byte ${cut}`);
  }
  t.equal(same, buf.length - 1, 'identical at every split');
});

for (const name of ['canonical.xml', 'variants-by-host.xml', 'by-control.xml']) {
  t.test(`${name}: identical records split at every byte offset, and in 1-byte chunks`, async (t) => {
    const buf = fixture(name);
    const whole = JSON.stringify(await parse(buf));
    t.equal(JSON.stringify(await parse(buf, {}, 1)), whole, '1-byte chunks');
    t.equal(JSON.stringify(await parse(buf, {}, 7, 3, 1, 64)), whole, 'mixed chunk sizes');
    let diff = 0;
    for (let cut = 1; cut < buf.length; cut++) {
      if (JSON.stringify(await parse(buf, {}, cut, buf.length)) !== whole) {
        diff++;
        if (diff < 3) t.fail(`split at byte ${cut} differs`);
      }
    }
    t.equal(diff, 0, `all ${buf.length - 1} two-chunk splits give the same records`);
    t.equal(JSON.stringify(await parse(buf, { batchSize: 1 }, 5)), whole, 'batch size does not change the records');
  });
}

t.test('error positions do not depend on chunk boundaries', async (t) => {
  const xml = Buffer.from('<POLICY_REPORT>\n<RESULTS>\n<POLICY><ID>1</ID>\n<HOST_LIST><HOST><IP>1.2.3.4</IP><CONTROL_LIST>\n<CONTROL><CID>9</CID><STATUS>Meh</STATUS></CONTROL>\n</CONTROL_LIST></HOST></HOST_LIST></POLICY></RESULTS></POLICY_REPORT>');
  for (const size of [1, 2, 3, 5, 8, 13, 1000]) {
    const rej = (await parse(xml, {}, size)).find((r) => r.type === 'rejected');
    t.equal(rej?.type === 'rejected' ? rej.line : null, 5, `rejected result on line 5 with ${size}-byte chunks`);
  }
  const deep = Buffer.from(`<POLICY_REPORT>\n\n${'<X>'.repeat(70)}`);
  for (const size of [1, 4, 1000]) {
    const err = await parse(deep, {}, size).catch((e: unknown) => e as { line: number; byteOffset: number });
    t.strictSame([err && (err as { line: number }).line, (err as { byteOffset: number }).byteOffset], [3, 17 + 63 * 3], `TOO_DEEP at line 3 with ${size}-byte chunks`);
  }
});
