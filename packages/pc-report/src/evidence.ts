/**
 * EVIDENCE as one free text: `Expected Value(s) - <expected> | Current Value(s) - <actual>`. The markers
 * match in any letter case, `Values(s)` is tolerated; without markers the whole text is the actual value.
 */
const EXPECTED = /expected\s+values?(?:\(s\))?\s*[-:]/i;
const CURRENT = /(?:\|\s*)?current\s+values?(?:\(s\))?\s*[-:]/i;

export function splitEvidence(text: string): { expected: string | null; actual: string | null } {
  const e = EXPECTED.exec(text);
  const c = CURRENT.exec(text);
  if (!e && !c) return { expected: null, actual: clean(text) };
  let expected: string | null = null;
  let actual: string | null = null;
  if (e) {
    const from = e.index + e[0].length;
    const to = c && c.index >= from ? c.index : text.length;
    expected = clean(text.slice(from, to));
  }
  if (c) {
    const from = c.index + c[0].length;
    const to = e && e.index >= from ? e.index : text.length;
    actual = clean(text.slice(from, to));
  }
  return { expected, actual };
}

function clean(s: string): string | null {
  let t = s.trim();
  if (t.endsWith('|')) t = t.slice(0, -1).trim();
  return t.length ? t : null;
}
