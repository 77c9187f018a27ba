/** Rows resolved through the glossary that follows them: both shapes, tokens, TM, paging, rejections. */
import t from 'tap';
import { findingKey } from '@qpc/domain';
import { parsePostureToArray } from '../src/parse-posture.ts';
import type { FindingRecord, HostRecord, PostureRecord, PostureRejectedRecord, PostureSummaryRecord } from '../src/records.ts';
import { answer, chunks, type Answer, type Row } from './build.ts';

const of = <T extends PostureRecord['type']>(recs: PostureRecord[], type: T) => recs.filter((r) => r.type === type) as Extract<PostureRecord, { type: T }>[];
const summaryOf = (recs: PostureRecord[]): PostureSummaryRecord => recs[recs.length - 1] as PostureSummaryRecord;

const GLOSSARY: Omit<Answer, 'rows'> = {
  hosts: [
    { id: '98001', ip: '10.0.0.1', dns: 'srv1.example.com', netbios: 'SRV1', os: 'Windows Server 2019', tracking: 'IP' },
    { id: '98002', ip: '10.0.0.2', netbios: 'SRV2', os: 'Red Hat Enterprise Linux 8', tracking: 'AGENT' },
  ],
  controls: [
    { id: '1001', statement: ' Status of the "Minimum password length" setting ', label: 'SERIOUS', value: '3', reference: 'CIS 1.1.4', rationales: [['91', 'Short passwords are guessed.'], ['105', 'Short passwords are guessed (2022).']], remediation: 'control-level remediation' },
    { id: '1002', statement: 'Status of the SQL Server audit level', value: '5' },
    { id: '1003', statement: 'A control without criticality', rationale: 'Plain rationale & more' },
  ],
  techs: [
    ['91', 'Windows Server 2019'],
    ['105', 'Windows Server 2022'],
    ['88', 'Microsoft SQL Server 2019'],
  ],
  tps: [['$tp_1', 'Enabled', 'Audit']],
  fvs: [['#fv_1', '14'], ['fv_2', 'Failed logins', 'Successful logins']],
  dpds: [[':dp_2', 'tm_audit']],
  tms: [
    { label: 'tm_audit', pairs: [['0', 'None'], ['3', 'Failed and successful logins']] },
    { label: 'tm_other', pairs: [['3', 'Three'], ['1', 'Enabled']] },
  ],
};

const ROWS: Row[] = [
  {
    id: '501', hostId: '98001', controlId: '1001', techId: '91', instance: 'os', status: 'Failed', policyId: '1234',
    modified: '2026-11-19T10:00:00Z', evaluated: '2026-11-20T09:00:00Z', previous: 'Passed', firstFail: '2026-11-01T00:00:00Z', lastFail: '2026-11-20T09:00:00Z',
    remediation: ' Set it to 14 ', cause: 'Value 8 is below 14', expr: '#fv_1', dpvs: [[':dp_1', '8']],
  },
  {
    id: '502', hostId: '98001', controlId: '1001', techId: '105', instance: 'os', status: 'PASSED', policyId: '1234',
    evaluated: '2026-11-20T09:00:00Z', firstPass: '2026-10-01T00:00:00Z', lastPass: '2026-11-20T09:00:00Z', expr: '#fv_1', dpvs: [[':dp_1', '15']],
  },
  {
    id: '503', hostId: '98002', controlId: '1002', techId: '88', instance: 'mssql:1:MSSQLSERVER', status: 'Error', policyId: '1234',
    expr: ':dp_2 in ($tp_1) and #fv_2', dpvs: [[':dp_2', '3', '0'], [':dp_9', '1']],
  },
  { id: '504', hostId: '98002', controlId: '1003', status: 'Passed', policyId: '2001' },
];

t.test('rows resolve through the glossary into report records (flat shape, POLICY_ID in rows)', async (t) => {
  const recs = await parsePostureToArray(chunks(answer({ ...GLOSSARY, rows: ROWS }), 100), { policyTitles: { '1234': 'CIS Windows' } });
  const hosts = of(recs, 'host');
  const findings = of(recs, 'finding');
  t.same(of(recs, 'policy'), [
    { type: 'policy', policyId: '1234', policyTitle: 'CIS Windows' },
    { type: 'policy', policyId: '2001', policyTitle: null },
  ]);
  t.same(hosts, [
    { type: 'host', hostKey: 'qid:98001', policyId: '1234', ip: '10.0.0.1', qualysHostId: '98001', hostname: 'srv1.example.com', dns: 'srv1.example.com', netbios: 'SRV1', os: 'Windows Server 2019', trackingMethod: 'IP', lastScanDate: null, tags: [] },
    { type: 'host', hostKey: 'qid:98002', policyId: '1234', ip: '10.0.0.2', qualysHostId: '98002', hostname: 'SRV2', dns: null, netbios: 'SRV2', os: 'Red Hat Enterprise Linux 8', trackingMethod: 'AGENT', lastScanDate: null, tags: [] },
    { type: 'host', hostKey: 'qid:98002', policyId: '2001', ip: '10.0.0.2', qualysHostId: '98002', hostname: 'SRV2', dns: null, netbios: 'SRV2', os: 'Red Hat Enterprise Linux 8', trackingMethod: 'AGENT', lastScanDate: null, tags: [] },
  ] satisfies HostRecord[]);
  t.equal(findings.length, 4);
  const [f1, f2, f3, f4] = findings as [FindingRecord, FindingRecord, FindingRecord, FindingRecord];
  t.same(f1, {
    type: 'finding',
    findingKey: findingKey({ hostKey: 'qid:98001', policyId: '1234', controlId: '1001', technology: 'Windows Server 2019', instance: 'os' }),
    hostKey: 'qid:98001',
    ip: '10.0.0.1',
    qualysHostId: '98001',
    policyId: '1234',
    policyTitle: 'CIS Windows',
    controlId: '1001',
    statement: 'Status of the "Minimum password length" setting',
    technology: 'Windows Server 2019',
    technologyId: '91',
    instance: 'os',
    testStatus: 'Failed',
    status: 'Open',
    severity: 'Medium',
    criticalityLabel: 'SERIOUS',
    criticalityValue: 3,
    expected: '14',
    actual: '8',
    rationale: 'Short passwords are guessed.',
    remediation: 'Set it to 14',
    evaluationDate: '2026-11-20T09:00:00Z',
    previousStatus: 'Passed',
    firstFailDate: '2026-11-01T00:00:00Z',
    lastFailDate: '2026-11-20T09:00:00Z',
    firstPassDate: null,
    lastPassDate: null,
    causeOfFailure: 'Value 8 is below 14',
    controlReferences: 'CIS 1.1.4',
    deprecated: null,
    exception: null,
  } satisfies FindingRecord);
  t.match(f2, { testStatus: 'Passed', status: 'Closed', technology: 'Windows Server 2022', rationale: 'Short passwords are guessed (2022).', remediation: 'control-level remediation', actual: '15' }, 'status in any case, rationale by technology, remediation from the control');
  t.match(f3, {
    testStatus: 'Error',
    severity: 'Critical',
    criticalityLabel: 'URGENT',
    technology: 'Microsoft SQL Server 2019',
    instance: 'mssql:1:MSSQLSERVER',
    expected: ':dp_2 in (Enabled ==OR== Audit) and Failed logins ==OR== Successful logins',
    actual: 'Failed and successful logins\nNone\nEnabled',
  }, 'tokens substituted; the DPD names its TM, other data points go through every TM');
  t.match(f4, { technology: null, technologyId: null, instance: null, severity: null, criticalityValue: null, criticalityLabel: 'Unknown', rationale: 'Plain rationale & more', expected: null, actual: null, policyId: '2001' });
  t.equal(f4.findingKey, findingKey({ hostKey: 'qid:98002', policyId: '2001', controlId: '1003', technology: null, instance: null }));
  t.same(summaryOf(recs), { type: 'summary', hosts: 3, findings: 4, passed: 2, failed: 1, error: 1, rejected: 0, policies: 2, bytes: Buffer.byteLength(answer({ ...GLOSSARY, rows: ROWS })), invalidUtf8: 0, rows: 4, paging: null });
});

t.test('the grouped shape (POLICY_LIST/POLICY) gives the same records as the flat one', async (t) => {
  const flat = await parsePostureToArray(chunks(answer({ ...GLOSSARY, rows: ROWS })));
  const grouped = await parsePostureToArray(chunks(answer({ ...GLOSSARY, rows: ROWS, shape: 'grouped' })));
  t.same(grouped.slice(0, -1), flat.slice(0, -1));
  t.equal(of(grouped, 'finding').length, 4);
  t.equal(summaryOf(grouped).findings, 4);
});

t.test('a flat answer without POLICY_ID takes the policy from the options, else rejects its rows', async (t) => {
  const rows = ROWS.slice(0, 2).map(({ policyId: _, ...r }) => r);
  const withOpt = await parsePostureToArray(chunks(answer({ ...GLOSSARY, rows })), { policyId: '7777' });
  t.same(of(withOpt, 'finding').map((f) => f.policyId), ['7777', '7777']);
  const without = await parsePostureToArray(chunks(answer({ ...GLOSSARY, rows })));
  t.same(of(without, 'rejected').map((r) => r.reason), ['missing-policy-id', 'missing-policy-id']);
  t.equal(summaryOf(without).rejected, 2);
});

t.test('the paging WARNING names the next id_min', async (t) => {
  const warning = { code: '1980', text: '2 record limit exceeded. Use URL to get next batch of results.', url: 'https://qualysapi.example.com/api/2.0/fo/compliance/posture/info/?action=list&policy_id=1234&truncation_limit=2&id_min=503' };
  const recs = await parsePostureToArray(chunks(answer({ ...GLOSSARY, rows: ROWS.slice(0, 2), warning })));
  t.same(summaryOf(recs).paging, { code: '1980', text: warning.text, url: warning.url, nextIdMin: '503' });
  t.equal(of(recs, 'finding').length, 2);
});

t.test('rows whose host, control or technology the glossary lacks are rejected with a reason and counted', async (t) => {
  const bad: Row[] = [
    { id: '601', hostId: '99999', controlId: '1001', techId: '91', instance: 'os', status: 'Passed', policyId: '1234' },
    { id: '602', hostId: '98001', controlId: '4242', techId: '91', instance: 'os', status: 'Passed', policyId: '1234' },
    { id: '603', hostId: '98001', controlId: '1001', techId: '999', instance: 'os', status: 'Passed', policyId: '1234' },
    { id: '604', hostId: '98001', controlId: '1001', techId: '91', instance: 'os', status: 'Not Applicable', policyId: '1234' },
    { id: '605', controlId: '1001', status: 'Passed', policyId: '1234' },
    { id: '606', hostId: '98001', status: 'Passed', policyId: '1234' },
  ];
  const recs = await parsePostureToArray(chunks(answer({ ...GLOSSARY, rows: [...bad, ROWS[0]!] })));
  const rejected = of(recs, 'rejected');
  t.same(
    rejected.map((r) => [r.reason, r.controlId, r.hostKey]),
    [
      ['unknown-host', '1001', null],
      ['unknown-control', '4242', 'qid:98001'],
      ['unknown-technology', '1001', 'qid:98001'],
      ['unknown-test-status', '1001', 'qid:98001'],
      ['missing-host-identity', '1001', null],
      ['missing-control-id', null, null],
    ],
  );
  const first = rejected[0] as PostureRejectedRecord;
  t.match(first.message, /line 7 \(ID 601\).*host 99999.*HOST_LIST/);
  t.equal(first.line, 7, "the line of the INFO start tag");
  t.match(rejected[3]!.message, /"Not Applicable"/);
  t.equal(summaryOf(recs).rejected, 6);
  t.equal(summaryOf(recs).findings, 1, 'the good row is still resolved');
});

t.test('criticality as attributes, V values with entities, and a token the glossary lacks', async (t) => {
  const xml = answer({ ...GLOSSARY, rows: [{ ...ROWS[0]!, expr: '#fv_1 or #fv_404' }] }).replace(
    /<CRITICALITY>.*?<\/CRITICALITY>/,
    '<CRITICALITY label="Renamed &amp; kept" value="4"/>',
  );
  const [f] = of(await parsePostureToArray(chunks(xml)), 'finding');
  t.match(f, { criticalityLabel: 'Renamed & kept', criticalityValue: 4, severity: 'High', expected: '14 or #fv_404' });
});
