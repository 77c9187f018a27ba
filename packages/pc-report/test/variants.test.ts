/**
 * Every variant of policy-report.md, from hand-written fixtures; the expected records are written by
 * hand from the spec and the fixture text (not copied from the parser's output).
 */
import t from 'tap';
import { finding, fixture, header, host, parse, rejected, split, summary } from './helpers.ts';

t.test('canonical form (grouped by host)', async (t) => {
  const buf = fixture('canonical.xml');
  const got = split(await parse(buf));
  const policy = { policyId: '1234', policyTitle: 'CIS Benchmark for Microsoft Windows Server 2019' };
  const h = { hostKey: 'qid:98765', ip: '10.0.0.5', qualysHostId: '98765' };
  const win = { technology: 'Windows Server 2019', technologyId: '91', instance: 'os' };
  t.strictSame(got.records, [
    header({
      root: 'COMPLIANCE_POLICY_REPORT',
      title: 'RBVM-PC Windows Servers',
      generatedAt: '2026-11-20T10:00:00Z',
      company: 'Acme Corp',
      userName: 'Ada Admin',
      userLogin: 'acme_aa',
      declared: { totalHosts: 2, totalControls: 3, totalControlInstances: 6, passed: 3, failed: 2, error: 1 },
    }),
    { type: 'policy', ...policy },
    host({
      ...h,
      policyId: '1234',
      hostname: 'web01.example.com',
      dns: 'web01.example.com',
      netbios: 'WEB01',
      os: 'Windows Server 2019 Datacenter',
      trackingMethod: 'IP',
      lastScanDate: '2026-11-19T22:00:00Z',
      tags: ['Production', 'PCI & SOX'],
    }),
    finding({
      ...h,
      ...policy,
      ...win,
      controlId: '1071',
      statement: "Status of the 'Minimum password length' setting",
      criticalityLabel: 'SERIOUS',
      criticalityValue: 3,
      severity: 'Medium',
      testStatus: 'Failed',
      status: 'Open',
      evaluationDate: '2026-11-19T22:05:00Z',
      expected: 'greater than or equal to 14',
      actual: '8',
      rationale: 'Short passwords\nare easy to guess.',
      remediation: 'Set it to 14 or more.',
    }),
    finding({
      ...h,
      ...policy,
      ...win,
      controlId: '1072',
      statement: "Status of the 'Lockout' setting \u2014 caf\u00e9 \u2603",
      criticalityLabel: 'URGENT',
      criticalityValue: 5,
      severity: 'Critical',
      testStatus: 'Passed',
      status: 'Closed',
      expected: '5',
      actual: '5',
      previousStatus: 'Failed',
      firstFailDate: '2026-10-01T00:00:00Z',
      lastFailDate: '2026-11-01T00:00:00Z',
      firstPassDate: '2026-11-19T22:05:00Z',
      lastPassDate: '2026-11-19T22:05:00Z',
      controlReferences: 'CIS 1.2.1',
      deprecated: false,
      exception: { status: 'Approved', assignee: 'bob', endDate: '2027-01-01', createdBy: null, createdDate: null, modifiedBy: null, modifiedDate: null },
    }),
    summary({ hosts: 1, findings: 2, passed: 1, failed: 1, policies: 1, bytes: buf.length }),
  ]);
});

t.test('variants grouped by host: root, BOM, PIs, host ids, technology, evidence, criticality, text, status case, unknown elements, IPv6, several policies, rejections', async (t) => {
  const buf = fixture('variants-by-host.xml');
  t.equal(buf[0], 0xef, 'the fixture starts with a byte order mark');
  const got = split(await parse(buf));
  const p11 = { policyId: '11', policyTitle: 'Oracle <19c>' };
  const db = { hostKey: 'qid:501', ip: '10.0.0.7', qualysHostId: '501' };
  const v6 = { hostKey: 'ip:fe80::1:abcd', ip: 'FE80::1:ABCD' };
  const rhel = 'Red Hat Enterprise Linux 9';
  const stmt = 'Ensure <audit> & "log" \'on\' AB';
  t.strictSame(got.records, [
    header({ root: 'POLICY_REPORT', title: 'Linux & DB servers' }),
    { type: 'policy', ...p11 },
    host({ ...db, policyId: '11', hostname: 'DB01', netbios: 'DB01', tags: ['DB'] }),
    finding({ ...db, ...p11, controlId: '2001', statement: stmt, criticalityLabel: 'CRITICAL', criticalityValue: 4, severity: 'High', technology: 'Oracle 19c', instance: 'ORCL1', testStatus: 'Passed', status: 'Closed', expected: 'on', actual: 'on' }),
    finding({ ...db, ...p11, controlId: '2001', statement: stmt, criticalityLabel: 'CRITICAL', criticalityValue: 4, severity: 'High', technology: 'Oracle 19c', instance: 'ORCL2', testStatus: 'Failed', status: 'Open', expected: 'on', actual: 'off', causeOfFailure: 'audit disabled', deprecated: true }),
    finding({ ...db, ...p11, controlId: '2002', statement: 'Line one\n                Line two', criticalityLabel: 'LOW-ISH', criticalityValue: 2, severity: 'Low', technology: rhel, technologyId: '305', testStatus: 'Error', status: 'Open', expected: '0600', actual: '0644' }),
    finding({ ...db, ...p11, controlId: '2003', criticalityLabel: 'MINIMAL', criticalityValue: 1, severity: 'Info', technology: rhel, testStatus: 'Passed', status: 'Closed', actual: 'sshd is running' }),
    finding({ ...db, ...p11, controlId: '2004', technology: rhel, testStatus: 'Passed', status: 'Closed', expected: 'yes', actual: 'yes' }),
    rejected({ reason: 'missing-control-id', line: 74, policyId: '11', hostKey: 'qid:501', ip: '10.0.0.7' }),
    rejected({ reason: 'unknown-test-status', line: 78, policyId: '11', hostKey: 'qid:501', ip: '10.0.0.7', controlId: '2005' }),
    rejected({ reason: 'unknown-test-status', line: 82, policyId: '11', hostKey: 'qid:501', ip: '10.0.0.7', controlId: '2006' }),
    host({ ...v6, policyId: '11', hostname: 'v6.example.com', dns: 'v6.example.com', netbios: 'V6HOST' }),
    finding({ ...v6, ...p11, controlId: '2001', technology: 'Oracle 19c', instance: 'ORCL1', testStatus: 'Failed', status: 'Open' }),
    rejected({ reason: 'missing-host-identity', line: 101, policyId: '11' }),
    { type: 'policy', policyId: '12', policyTitle: null },
    host({ ...db, policyId: '12' }),
    finding({ ...db, policyId: '12', controlId: '3001', testStatus: 'Passed', status: 'Closed' }),
    summary({ hosts: 3, findings: 7, passed: 4, failed: 2, error: 1, rejected: 4, policies: 2, bytes: buf.length }),
  ]);
  t.equal(got.messages.length, 4);
  t.match(got.messages[0], /line 74.*control id/);
  t.match(got.messages[1], /line 78.*"Exempt"/);
  t.match(got.messages[2], /line 82.*no test status/);
  t.match(got.messages[3], /line 101.*neither an IP nor a host id/);
});

t.test('grouped by control, host details from HOST_STATISTICS', async (t) => {
  const buf = fixture('by-control.xml');
  const got = split(await parse(buf));
  const p = { policyId: '77', policyTitle: 'Grouped by control' };
  const a = { hostKey: 'qid:9001', ip: '10.1.0.1', qualysHostId: '9001' };
  const b = { hostKey: 'ip:10.1.0.2', ip: '10.1.0.2' };
  const c = { hostKey: 'ip:10.1.0.3', ip: '10.1.0.3' };
  const c100 = {
    controlId: '100',
    statement: 'Ensure SSH root login is disabled',
    criticalityLabel: 'URGENT',
    criticalityValue: 5,
    severity: 'Critical' as const,
    rationale: 'Root over SSH is dangerous.',
    remediation: 'PermitRootLogin no',
  };
  t.strictSame(got.records, [
    header({ root: 'COMPLIANCE_POLICY_REPORT', title: 'By control' }),
    { type: 'policy', ...p },
    host({ ...a, policyId: '77', hostname: 'a.example.com', dns: 'a.example.com', os: 'Ubuntu 22.04', trackingMethod: 'AGENT', lastScanDate: '2026-11-18T00:00:00Z', tags: ['Cloud', 'Linux'] }),
    host({ ...b, policyId: '77', hostname: 'BHOST', netbios: 'BHOST', tags: ['Linux'] }),
    rejected({ reason: 'missing-host-identity', line: 25, policyId: '77' }),
    finding({ ...a, ...p, ...c100, technology: 'Ubuntu 22.04', technologyId: '7', instance: 'os', testStatus: 'Failed', status: 'Open', evaluationDate: '2026-11-18T00:01:00Z', expected: 'no', actual: 'yes' }),
    finding({ ...b, ...p, ...c100, technology: 'Ubuntu 22.04', technologyId: '7', instance: 'os', testStatus: 'Passed', status: 'Closed', expected: 'no', actual: 'no' }),
    host({ ...c, policyId: '77' }),
    finding({ ...c, ...p, ...c100, technology: 'Debian 12', testStatus: 'Error', status: 'Open' }),
    rejected({ reason: 'missing-host-identity', line: 57, policyId: '77', controlId: '100' }),
    rejected({ reason: 'missing-control-id', line: 63, policyId: '77' }),
    finding({
      ...a,
      ...p,
      controlId: '101',
      criticalityLabel: 'MEDIUM',
      criticalityValue: 2,
      severity: 'Low',
      technology: 'Ubuntu 22.04',
      instance: 'os',
      testStatus: 'Passed',
      status: 'Closed',
      exception: { status: 'Pending', assignee: null, endDate: null, createdBy: 'eve', createdDate: null, modifiedBy: null, modifiedDate: null },
    }),
    summary({ hosts: 3, findings: 4, passed: 2, failed: 1, error: 1, rejected: 3, policies: 1, bytes: buf.length }),
  ]);
  t.match(got.messages[0], /line 25/);
  t.match(got.messages[1], /line 57/);
  t.match(got.messages[2], /line 63.*control id/);
});

t.test('a DOCTYPE internal subset without entity declarations is accepted', async (t) => {
  const xml = '<!DOCTYPE POLICY_REPORT [\n<!ELEMENT POLICY_REPORT ANY>\n<!-- c -->\n]>\n<POLICY_REPORT/>';
  t.strictSame(await parse(xml), [header({ root: 'POLICY_REPORT' }), summary({ bytes: Buffer.byteLength(xml) })]);
});

t.test('an empty report (no policies) gives a header and a summary', async (t) => {
  const xml = '<COMPLIANCE_POLICY_REPORT><HEADER><NAME>x</NAME></HEADER><RESULTS></RESULTS></COMPLIANCE_POLICY_REPORT>';
  t.strictSame(await parse(xml), [header({ root: 'COMPLIANCE_POLICY_REPORT', title: 'x' }), summary({ bytes: xml.length })]);
});
