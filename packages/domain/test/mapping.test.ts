import t from 'tap';
import {
  parseTestStatus,
  statusFromTestStatus,
  severityFromCriticality,
  hostKey,
  findingKey,
} from '../src/index.ts';

t.test('test status in any case', async (t) => {
  t.equal(parseTestStatus('PASSED'), 'Passed');
  t.equal(parseTestStatus(' failed '), 'Failed');
  t.equal(parseTestStatus('Error'), 'Error');
  t.equal(parseTestStatus('Exception'), null);
  t.equal(parseTestStatus(undefined), null);
});

t.test('status mapping of the guide', async (t) => {
  t.equal(statusFromTestStatus('Passed'), 'Closed');
  t.equal(statusFromTestStatus('Failed'), 'Open');
  t.equal(statusFromTestStatus('Error'), 'Open');
});

t.test('severity table of the guide, by value', async (t) => {
  const table: [number, string][] = [
    [5, 'Critical'],
    [4, 'High'],
    [3, 'Medium'],
    [2, 'Low'],
    [1, 'Info'],
  ];
  for (const [v, s] of table) t.equal(severityFromCriticality(v), s, `value ${v}`);
  for (const v of [0, 6, -1, 2.5, null, undefined, Number.NaN]) t.equal(severityFromCriticality(v), null, `value ${v} never guessed`);
});

t.test('host keys', async (t) => {
  t.equal(hostKey({ qualysHostId: '98765', ip: '10.0.0.5' }), 'qid:98765');
  t.equal(hostKey({ ip: ' 10.0.0.5 ' }), 'ip:10.0.0.5');
  t.equal(hostKey({ ip: 'FE80::1' }), 'ip:fe80::1');
  t.equal(hostKey({ qualysHostId: ' ', ip: '' }), null);
});

t.test('finding keys: instances are never collapsed', async (t) => {
  const base = { hostKey: 'qid:1', policyId: '1234', controlId: '1071', technology: 'Oracle 19c', instance: 'db1' };
  t.equal(findingKey(base), findingKey({ ...base, technology: ' oracle 19C ' }));
  t.not(findingKey(base), findingKey({ ...base, instance: 'db2' }));
  t.not(findingKey(base), findingKey({ ...base, policyId: '1235' }));
  t.not(findingKey(base), findingKey({ ...base, technology: 'Oracle 12c' }));
  t.not(findingKey({ ...base, controlId: '1', instance: '2|3' }), findingKey({ ...base, controlId: '1|2', instance: '3' }));
});
