/** The element table: consistent, complete, covering every name of policy-report.md, and one line to extend. */
import t from 'tap';
import { ELEMENTS, ROOTS, HOST_FIELDS, RESULT_FIELDS, HEADER_FIELDS, POLICY_FIELDS, type Entry, type Field, type Scope } from '../src/mapping.ts';
import { compileTable } from '../src/compiled-table.ts';
import { parse } from './helpers.ts';

const scopes = Object.keys(ELEMENTS) as Scope[];

t.test('every scope is reachable from a root and every target scope exists', async (t) => {
  const seen = new Set<Scope>();
  const visit = (s: Scope) => {
    if (seen.has(s)) return;
    seen.add(s);
    for (const e of Object.values(ELEMENTS[s])) if ('scope' in e) visit(e.scope);
  };
  for (const s of Object.values(ROOTS)) visit(s);
  t.strictSame([...seen].sort(), [...scopes].sort());
  t.doesNotThrow(() => compileTable(ELEMENTS));
});

t.test('every field is filled by at least one element', async (t) => {
  const filled = new Set<Field>();
  for (const s of scopes) {
    for (const e of Object.values(ELEMENTS[s]) as Entry[]) {
      if ('field' in e) filled.add(e.field);
      else {
        if (e.text) filled.add(e.text);
        for (const f of Object.values(e.attrs ?? {})) filled.add(f);
      }
    }
  }
  for (const f of [...HEADER_FIELDS, ...POLICY_FIELDS, ...HOST_FIELDS, ...RESULT_FIELDS]) t.ok(filled.has(f), f);
});

t.test('the element names of policy-report.md are mapped where the spec puts them', async (t) => {
  const field = (s: Scope, name: string) => {
    const e = ELEMENTS[s][name];
    return e && 'field' in e ? e.field : e && 'scope' in e ? `scope:${e.scope}` : undefined;
  };
  t.strictSame(Object.keys(ROOTS).slice(0, 2), ['COMPLIANCE_POLICY_REPORT', 'POLICY_REPORT']);
  for (const s of ['host', 'statsHost', 'controlHost'] as const) {
    for (const n of ['QG_HOSTID', 'HOST_ID', 'QUALYS_HOST_ID']) t.equal(field(s, n), 'qualysHostId', `${s}/${n}`);
    t.equal(field(s, 'IP'), 'ip');
    t.equal(field(s, 'DNS'), 'dns');
    t.equal(field(s, 'NETBIOS'), 'netbios');
    t.equal(field(s, 'OPERATING_SYSTEM'), 'os');
    t.equal(field(s, 'TRACKING_METHOD'), 'trackingMethod');
    t.equal(field(s, 'LAST_SCAN_DATE'), 'lastScanDate');
    t.equal(field(s, 'ASSET_TAGS'), 'scope:tags');
  }
  for (const s of ['hostControl', 'control', 'controlHost'] as const) {
    t.equal(field(s, 'CID'), 'controlId');
    t.equal(field(s, 'TECHNOLOGY'), 'scope:technology');
    t.equal(field(s, 'TECHNOLOGY_NAME'), 'technology');
    t.equal(field(s, 'TECHNOLOGY_ID'), 'technologyId');
    t.equal(field(s, 'CRITICALITY'), 'scope:criticality');
    t.equal(field(s, 'CRITICALITY_LABEL'), 'criticalityLabel');
    t.equal(field(s, 'CRITICALITY_VALUE'), 'criticalityValue');
    t.equal(field(s, 'EVIDENCE'), 'scope:evidence');
    for (const n of ['EXPECTED_VALUE', 'EXPECTED_RESULT']) t.equal(field(s, n), 'expected', `${s}/${n}`);
    for (const n of ['ACTUAL_VALUE', 'ACTUAL_RESULT', 'CURRENT_VALUE']) t.equal(field(s, n), 'actual', `${s}/${n}`);
    for (const [n, f] of Object.entries({ PREVIOUS_STATUS: 'previousStatus', FIRST_FAIL_DATE: 'firstFailDate', LAST_FAIL_DATE: 'lastFailDate', FIRST_PASS_DATE: 'firstPassDate', LAST_PASS_DATE: 'lastPassDate', CAUSE_OF_FAILURE: 'causeOfFailure', CONTROL_REFERENCES: 'controlReferences', DEPRECATED: 'deprecated', STATUS: 'status', INSTANCE: 'instance', STATEMENT: 'statement', RATIONALE: 'rationale', REMEDIATION: 'remediation', EVALUATION_DATE: 'evaluationDate' })) {
      t.equal(field(s, n), f, `${s}/${n}`);
    }
    t.equal(field(s, 'EXCEPTION'), 'scope:exception');
  }
  for (const n of ['EXPECTED', 'EXPECTED_VALUE', 'EXPECTED_RESULT']) t.equal(field('evidence', n), 'expected');
  for (const n of ['ACTUAL', 'ACTUAL_VALUE', 'ACTUAL_RESULT', 'CURRENT_VALUE']) t.equal(field('evidence', n), 'actual');
  t.strictSame(ELEMENTS.hostControl.CRITICALITY, { scope: 'criticality', attrs: { label: 'criticalityLabel', value: 'criticalityValue' } });
  t.strictSame(ELEMENTS.exception, {
    STATUS: { field: 'exceptionStatus' },
    ASSIGNEE: { field: 'exceptionAssignee' },
    END_DATE: { field: 'exceptionEndDate' },
    CREATED_BY: { field: 'exceptionCreatedBy' },
    CREATED_DATE: { field: 'exceptionCreatedDate' },
    MODIFIED_BY: { field: 'exceptionModifiedBy' },
    MODIFIED_DATE: { field: 'exceptionModifiedDate' },
  });
  t.equal(field('policy', 'HOST_STATISTICS'), 'scope:hostStats');
  t.equal(field('control', 'HOST_LIST'), 'scope:controlHosts');
});

t.test('a report that names an element differently needs one table line', async (t) => {
  const xml = '<POLICY_REPORT><RESULTS><POLICY><ID>1</ID><HOST_LIST><HOST><IP_ADDRESS>10.2.3.4</IP_ADDRESS><CONTROL_LIST><CONTROL><CONTROL_ID>5</CONTROL_ID><RESULT_STATUS>Passed</RESULT_STATUS></CONTROL></CONTROL_LIST></HOST></HOST_LIST></POLICY></RESULTS></POLICY_REPORT>';
  const before = await parse(xml);
  t.strictSame(before.map((r) => r.type), ['header', 'policy', 'rejected', 'summary'], 'unknown IP_ADDRESS: a host without identity');
  const elements = {
    ...ELEMENTS,
    host: { ...ELEMENTS.host, IP_ADDRESS: { field: 'ip' } }, // the one line
    hostControl: { ...ELEMENTS.hostControl, RESULT_STATUS: { field: 'status' } }, // and one more
  } satisfies Record<Scope, Record<string, Entry>>;
  const after = await parse(xml, { elements });
  t.strictSame(after.map((r) => r.type), ['header', 'policy', 'host', 'finding', 'summary']);
  const f = after.find((r) => r.type === 'finding');
  t.match(f, { hostKey: 'ip:10.2.3.4', ip: '10.2.3.4', controlId: '5', testStatus: 'Passed' });
});
