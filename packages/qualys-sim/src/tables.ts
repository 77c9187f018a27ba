/**
 * Fixed vocabularies the generator draws from. Some values carry characters that need escaping in
 * XML (& < > " '), unicode, inner line breaks and surrounding white space on purpose: the parser must
 * decode and trim them (policy-report.md, variant 8).
 */

export const POLICY_TITLES = [
  'CIS Benchmark for Microsoft Windows Server 2019',
  'CIS Benchmark for Red Hat Enterprise Linux 8',
  'Oracle Database 19c Hardening & Audit',
  'PCI DSS v4.0 <Cardholder> Systems',
  'Richtlinie für Server (Zürich)',
];

/** technologies: [id, name] */
export const OS_TECHS: Array<[string, string]> = [
  ['91', 'Windows Server 2019'],
  ['105', 'Windows Server 2022'],
  ['74', 'Red Hat Enterprise Linux 8.x'],
  ['122', 'Ubuntu 22.04 LTS'],
];
export const DB_TECHS: Array<[string, string]> = [
  ['45', 'Oracle 19c'],
  ['88', 'Microsoft SQL Server 2019'],
  ['131', 'PostgreSQL 15.x'],
];
export const DB_INSTANCES = ['ORCL', 'HR', 'FIN', 'CRM', 'DWH', 'TEST'];

export const STATEMENTS = [
  "Status of the 'Minimum password length' setting",
  "Status of the 'Maximum password age' setting",
  "Status of the 'Audit: Force audit policy subcategory settings' setting",
  'Status of the permissions set on the /etc/shadow file',
  "Status of the 'Accounts: Rename administrator account' setting",
  'Status of the SSH "PermitRootLogin" setting',
  'Status of the database <AUDIT_TRAIL> parameter',
  'Status of the Windows Firewall & Domain Profile',
  'Status of the Kennwortrichtlinie (Länge ≥ 14)',
  'Status of the password verification function for profiles',
];

export const EVIDENCE: Array<{ expected: string; pass: string; fail: string }> = [
  { expected: 'greater than or equal to 14', pass: '14', fail: '8' },
  { expected: 'less than or equal to 60', pass: '42', fail: '0' },
  { expected: 'Enabled', pass: 'Enabled', fail: 'Disabled' },
  { expected: 'rw-------\nowner root', pass: 'rw-------\nowner root', fail: 'rw-r--r--\nowner root' },
  { expected: 'not equal to "Administrator"', pass: 'qpcadmin', fail: 'Administrator' },
  { expected: 'no', pass: 'no', fail: 'yes' },
  { expected: 'DB,EXTENDED | OS', pass: 'DB,EXTENDED', fail: 'NONE' },
  { expected: 'On & Block inbound <default>', pass: 'On & Block inbound <default>', fail: 'Off' },
  { expected: '≥ 14 Zeichen', pass: '16 Zeichen', fail: '6 Zeichen' },
  { expected: 'ORA12C_STRONG_VERIFY_FUNCTION', pass: 'ORA12C_STRONG_VERIFY_FUNCTION', fail: 'NULL' },
];

export const ERROR_ACTUALS = [
  'Error: unable to read registry key HKLM\\SYSTEM\\CurrentControlSet',
  'Error: permission denied while reading the file',
  'Error: instance not reachable (ORA-12541)',
];

export const RATIONALES = [
  'Longer passwords are harder to guess.\nThis setting enforces a minimum.',
  'Limits the window in which a stolen credential stays valid.',
  'Audit subcategories give finer control than the legacy categories & are preferred.',
  'Sensitive files must not be readable by <other> users.',
];

/** surrounding white space on purpose: the parser trims it */
export const REMEDIATIONS = [
  '\n  Configure the setting through Group Policy.\n  Then run gpupdate /force.\n',
  '  Set the value in /etc/ssh/sshd_config & restart sshd.  ',
  'Apply the vendor hardening guide, section "Auditing".',
];

export const OSES = [
  'Windows Server 2019 Datacenter',
  'Windows Server 2022 Standard',
  'Red Hat Enterprise Linux 8.9',
  'Ubuntu 22.04.4 LTS',
];

export const TRACKING = ['IP', 'DNS', 'AGENT', 'NETBIOS'];

/** asset tags: some need escaping, some are unicode */
export const TAGS = [
  'Production',
  'PCI & SOX',
  '<DMZ>',
  'Zürich',
  '東京',
  'Owner "ops"',
  "O'Brien's lab",
  'Windows Servers',
  'Tier-1',
];

export const CAUSES = [
  'The configured value is below the required minimum.',
  'The setting is not configured & defaults apply.',
];

export const REFERENCES = ['CIS 1.1.4', 'CIS 5.2.10 | NIST AC-6', 'PCI DSS 8.3.6'];
