/** The XML envelopes Qualys answers with (qualys-api.md): SIMPLE_RETURN, GENERIC_RETURN, lists, about. */
import { cdata, escapeXml } from './xml-text.ts';
import type { ScenarioReport } from './scenario.ts';

const DECL = '<?xml version="1.0" encoding="UTF-8" ?>\n';

export function nowIso(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function simpleReturn(code: number | null, text: string, items: Array<[string, string]> = []): string {
  const list = items.length
    ? `    <ITEM_LIST>\n${items.map(([k, v]) => `      <ITEM>\n        <KEY>${escapeXml(k)}</KEY>\n        <VALUE>${escapeXml(v)}</VALUE>\n      </ITEM>\n`).join('')}    </ITEM_LIST>\n`
    : '';
  return (
    DECL +
    '<!DOCTYPE SIMPLE_RETURN SYSTEM "https://qualysapi.qualys.com/api/2.0/simple_return.dtd">\n' +
    `<SIMPLE_RETURN>\n  <RESPONSE>\n    <DATETIME>${nowIso()}</DATETIME>\n` +
    (code === null ? '' : `    <CODE>${code}</CODE>\n`) +
    `    <TEXT>${escapeXml(text)}</TEXT>\n${list}  </RESPONSE>\n</SIMPLE_RETURN>\n`
  );
}

/** Qualys's older internal-error envelope (API v1 style). */
export function genericReturn(apiName: string, login: string): string {
  return (
    DECL +
    '<!DOCTYPE GENERIC_RETURN SYSTEM "https://qualysapi.qualys.com/generic_return.dtd">\n' +
    `<GENERIC_RETURN>\n  <API name="${escapeXml(apiName)}" username="${escapeXml(login)}" at="${nowIso()}" />\n` +
    '  <RETURN status="FAILED" number="999">Internal error. Please contact customer support.</RETURN>\n</GENERIC_RETURN>\n'
  );
}

export const HTML_ERROR_PAGE =
  '<!DOCTYPE html>\n<html><head><title>Qualys - Service Maintenance</title></head>\n<body><h1>We are performing scheduled maintenance</h1><p>Please try again later.</p></body></html>\n';

/** "<n> bytes|KB|MB|GB" as in the report list */
export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KB', 'MB', 'GB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

export function reportList(rows: Array<{ r: ScenarioReport; size: string }>, login: string): string {
  let s =
    DECL +
    '<!DOCTYPE REPORT_LIST_OUTPUT SYSTEM "https://qualysapi.qualys.com/api/2.0/fo/report/report_list_output.dtd">\n' +
    `<REPORT_LIST_OUTPUT>\n  <RESPONSE>\n    <DATETIME>${nowIso()}</DATETIME>\n`;
  if (rows.length) {
    s += '    <REPORT_LIST>\n';
    for (const { r, size } of rows) {
      s +=
        `      <REPORT>\n        <ID>${r.id}</ID>\n        <TITLE>${cdata(r.title)}</TITLE>\n        <TYPE>${r.type}</TYPE>\n` +
        `        <USER_LOGIN>${escapeXml(login)}</USER_LOGIN>\n        <LAUNCH_DATETIME>${r.launchedAt}</LAUNCH_DATETIME>\n` +
        `        <OUTPUT_FORMAT>${r.outputFormat}</OUTPUT_FORMAT>\n        <SIZE>${size}</SIZE>\n` +
        `        <STATUS><STATE>${r.state}</STATE></STATUS>\n        <EXPIRATION_DATETIME>${r.expiresAt}</EXPIRATION_DATETIME>\n      </REPORT>\n`;
    }
    s += '    </REPORT_LIST>\n';
  }
  return s + '  </RESPONSE>\n</REPORT_LIST_OUTPUT>\n';
}

export function policyList(policies: Array<{ id: string; title: string; created: string; lastEvaluated?: string | null }>): string {
  let s =
    DECL +
    '<!DOCTYPE POLICY_LIST_OUTPUT SYSTEM "https://qualysapi.qualys.com/api/2.0/fo/compliance/policy/policy_list_output.dtd">\n' +
    `<POLICY_LIST_OUTPUT>\n  <RESPONSE>\n    <DATETIME>${nowIso()}</DATETIME>\n    <POLICY_LIST>\n`;
  for (const p of policies)
    s +=
      `      <POLICY>\n        <ID>${p.id}</ID>\n        <TITLE>${cdata(p.title)}</TITLE>\n` +
      `        <CREATED><DATETIME>${p.created}</DATETIME><BY>demo</BY></CREATED>\n` +
      `        <LAST_MODIFIED><DATETIME>${p.created}</DATETIME></LAST_MODIFIED>\n` +
      (p.lastEvaluated ? `        <LAST_EVALUATED><DATETIME>${p.lastEvaluated}</DATETIME></LAST_EVALUATED>\n` : '') +
      '        <STATUS>Active</STATUS>\n      </POLICY>\n';
  return s + '    </POLICY_LIST>\n  </RESPONSE>\n</POLICY_LIST_OUTPUT>\n';
}

export function aboutXml(): string {
  return (
    DECL +
    '<ABOUT>\n  <API-VERSION MAJOR="2" MINOR="0" />\n  <WEB-VERSION>10.30.0.0-1</WEB-VERSION>\n' +
    '  <SCANNER-VERSION>13.7.21-1</SCANNER-VERSION>\n  <VULNSIGS-VERSION>2.6.150-3</VULNSIGS-VERSION>\n' +
    '  <QPC-SIMULATOR>true</QPC-SIMULATOR>\n</ABOUT>\n'
  );
}

/** A Scan-type report: a tiny vulnerability report, which the policy parser must refuse by its root. */
export function scanReportXml(r: ScenarioReport): string {
  return (
    DECL +
    '<!DOCTYPE ASSET_DATA_REPORT SYSTEM "https://qualysguard.qualys.com/asset_data_report.dtd">\n' +
    `<ASSET_DATA_REPORT>\n<HEADER><COMPANY>${cdata(r.company)}</COMPANY><GENERATION_DATETIME>${r.generatedAt}</GENERATION_DATETIME></HEADER>\n` +
    '<HOST_LIST><HOST><IP>10.0.0.1</IP><VULN_INFO_LIST><VULN_INFO><QID id="qid_38170">38170</QID><TYPE>Vuln</TYPE></VULN_INFO></VULN_INFO_LIST></HOST></HOST_LIST>\n</ASSET_DATA_REPORT>\n'
  );
}

/** Placeholder bodies for report formats the generator does not produce. */
export function placeholderReport(r: ScenarioReport): { body: string; contentType: string } {
  switch (r.outputFormat) {
    case 'CSV':
      return { body: `"Policy Report","${r.title.replaceAll('"', '""')}"\n"IP","Control ID","Status"\n"10.0.0.1","1001","Passed"\n`, contentType: 'text/csv' };
    case 'PDF':
      return { body: '%PDF-1.4\n% simulated report placeholder\n%%EOF\n', contentType: 'application/pdf' };
    case 'MHT':
      return { body: 'MIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n<html><body>simulated</body></html>\r\n', contentType: 'message/rfc822' };
    default:
      return { body: `<html><body><h1>${escapeXml(r.title)}</h1><p>simulated</p></body></html>\n`, contentType: 'text/html' };
  }
}
