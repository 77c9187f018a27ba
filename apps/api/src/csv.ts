/**
 * CSV cells and rows (RFC 4180: quoted when needed, quotes doubled, CRLF line ends). A cell a
 * spreadsheet would read as a formula (= + - @, or a leading tab or CR) gets a leading apostrophe:
 * report fields come from scanned hosts, so their text is not to be trusted with a formula.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let s = value instanceof Date ? value.toISOString() : Array.isArray(value) ? value.join(';') : String(value);
  if (FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const csvRow = (cells: readonly unknown[]) => `${cells.map(csvCell).join(',')}\r\n`;
