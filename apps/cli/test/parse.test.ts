/** `qpc parse`: spawned as ops run it, on files and on stdin. */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(root, 'apps/cli/bin/qpc.mjs');
const fixtures = path.join(root, 'packages/pc-report/test/fixtures');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function qpc(args: string[], stdin?: Buffer | string, pipeToHead = false): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [bin, 'parse', ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8');
    p.stderr.setEncoding('utf8');
    p.stdout.on('data', (d: string) => {
      stdout += d;
      // like `| head -n 3`: read a little, then close the pipe
      if (pipeToHead && stdout.split('\n').length > 3) p.stdout.destroy();
    });
    p.stderr.on('data', (d: string) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    if (stdin !== undefined) p.stdin.end(stdin);
    else p.stdin.end();
  });
}

const lines = (s: string) =>
  s
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const tmp = mkdtempSync(path.join(tmpdir(), 'qpc-parse-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

t.test('--jsonl prints every record, summary last, exit 0', async (t) => {
  const r = await qpc([path.join(fixtures, 'canonical.xml'), '--jsonl']);
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
  const recs = lines(r.stdout);
  t.strictSame(
    recs.map((x) => x.type),
    ['header', 'policy', 'host', 'finding', 'finding', 'summary'],
  );
  t.match(recs[2], { type: 'host', hostKey: 'qid:98765', ip: '10.0.0.5', qualysHostId: '98765', hostname: 'web01.example.com', dns: 'web01.example.com', netbios: 'WEB01', os: 'Windows Server 2019 Datacenter', trackingMethod: 'IP', tags: ['Production', 'PCI & SOX'] });
  t.match(recs[3], {
    type: 'finding',
    hostKey: 'qid:98765',
    ip: '10.0.0.5',
    policyId: '1234',
    policyTitle: 'CIS Benchmark for Microsoft Windows Server 2019',
    controlId: '1071',
    statement: "Status of the 'Minimum password length' setting",
    technology: 'Windows Server 2019',
    instance: 'os',
    testStatus: 'Failed',
    status: 'Open',
    severity: 'Medium',
    criticalityLabel: 'SERIOUS',
    criticalityValue: 3,
    expected: 'greater than or equal to 14',
    actual: '8',
  });
  t.match(recs[3]?.findingKey, /^[0-9a-f]{40}$/);
  t.strictSame(recs[5], { type: 'summary', hosts: 1, findings: 2, passed: 1, failed: 1, error: 0, rejected: 0, policies: 1, bytes: readFileSync(path.join(fixtures, 'canonical.xml')).length, invalidUtf8: 0 });
});

t.test('without --jsonl: header, policy, rejected and summary only', async (t) => {
  const r = await qpc([path.join(fixtures, 'variants-by-host.xml')]);
  t.equal(r.code, 0);
  const recs = lines(r.stdout);
  t.strictSame(
    recs.map((x) => x.type),
    ['header', 'policy', 'rejected', 'rejected', 'rejected', 'rejected', 'policy', 'summary'],
  );
  t.match(recs[2], { type: 'rejected', reason: 'missing-control-id', line: 74, message: /line 74/ });
  t.match(recs[7], { type: 'summary', hosts: 3, findings: 7, rejected: 4 });
});

t.test('stdin with -', async (t) => {
  const r = await qpc(['-', '--jsonl'], readFileSync(path.join(fixtures, 'by-control.xml')));
  t.equal(r.code, 0);
  t.match(lines(r.stdout).at(-1), { type: 'summary', hosts: 3, findings: 4, rejected: 3 });
});

t.test('a refused file: exit 1, one line on stderr naming the problem and where', async (t) => {
  const cases: [string, string | Buffer, RegExp][] = [
    ['scan.xml', '<?xml version="1.0"?>\n<ASSET_DATA_REPORT></ASSET_DATA_REPORT>', /scan\.xml: NOT_A_POLICY_REPORT: .*<ASSET_DATA_REPORT>: a vulnerability scan report.*line 2/],
    ['error.xml', '<SIMPLE_RETURN><RESPONSE><CODE>1965</CODE><TEXT>Rate limit exceeded</TEXT></RESPONSE></SIMPLE_RETURN>', /QUALYS_ERROR: .*code 1965: Rate limit exceeded/],
    ['cut.xml', readFileSync(path.join(fixtures, 'canonical.xml')).subarray(0, 1500), /cut\.xml: TRUNCATED: .*<COMPLIANCE_POLICY_REPORT> is closed.*byte 1500/],
    ['empty.xml', '', /EMPTY_INPUT: the input is empty/],
    ['bomb.xml', '<!DOCTYPE R [<!ENTITY a "b">]><POLICY_REPORT/>', /ENTITY_DECLARATION: .*line 1, byte 0/],
  ];
  for (const [name, content, re] of cases) {
    const file = path.join(tmp, name);
    writeFileSync(file, content);
    const r = await qpc([file]);
    t.equal(r.code, 1, `${name}: exit 1`);
    t.match(r.stderr, re, `${name}: message`);
    t.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line`);
  }
  const missing = await qpc([path.join(tmp, 'nope.xml')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /nope\.xml: cannot read: ENOENT/);
});

t.test('usage errors exit 2', async (t) => {
  t.equal((await qpc([])).code, 2);
  const r = await qpc(['a.xml', '--bogus']);
  t.equal(r.code, 2);
  t.match(r.stderr, /unknown option --bogus/);
});

t.test('streams a large file and stops quietly when the reader goes away (| head)', async (t) => {
  const file = path.join(tmp, 'big.xml');
  let xml = '<COMPLIANCE_POLICY_REPORT><RESULTS><POLICY><ID>1</ID><HOST_LIST>\n';
  for (let h = 0; h < 3000; h++) {
    xml += `<HOST><IP>10.0.${h >> 8}.${h & 255}</IP><CONTROL_LIST>`;
    for (let c = 0; c < 20; c++) xml += `<CONTROL><CID>${c}</CID><STATUS>Passed</STATUS><STATEMENT>statement ${c}</STATEMENT></CONTROL>\n`;
    xml += '</CONTROL_LIST></HOST>\n';
  }
  writeFileSync(file, `${xml}</HOST_LIST></POLICY></RESULTS></COMPLIANCE_POLICY_REPORT>\n`);
  const r = await qpc([file, '--jsonl'], undefined, true);
  t.equal(r.code, 0, 'exit 0 on EPIPE');
  t.equal(r.stderr, '', 'nothing on stderr');
  const full = await qpc([file]);
  t.equal(full.code, 0);
  t.match(lines(full.stdout).at(-1), { type: 'summary', hosts: 3000, findings: 60000, passed: 60000 });
});
