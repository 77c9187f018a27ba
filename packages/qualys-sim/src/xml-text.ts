/** Text encoding for generated XML: CDATA sections or escaped text with entities and char references. */

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;'));
}

/** escaped text where every non-ASCII character is a numeric character reference (decoded by the parser) */
export function escapeXmlAscii(s: string): string {
  let out = '';
  for (const ch of escapeXml(s)) {
    const cp = ch.codePointAt(0) ?? 0;
    out += cp < 128 ? ch : cp % 2 === 0 ? `&#${cp};` : `&#x${cp.toString(16).toUpperCase()};`;
  }
  return out;
}

export function cdata(s: string): string {
  return `<![CDATA[${s.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}

export type TextFn = (s: string) => string;

export function textFn(mode: 'cdata' | 'escaped'): TextFn {
  return mode === 'cdata' ? cdata : escapeXmlAscii;
}
