/**
 * A test-side reading of generated XML with htmlparser2 (xmlMode): checks well-formedness (every
 * close tag matches, nothing implied, one root) and pulls out what the tests compare with
 * expectedRecords. Deliberately small: only the forms the tests generate.
 */
import { Parser } from 'htmlparser2';
import { findingKey, hostKey, parseTestStatus } from '@qpc/domain';

export interface Extracted {
  root: string | null;
  title: string | null;
  errors: string[];
  policies: string[];
  /** per policy: host keys in the host list (by-host) or host statistics (by-control) */
  hosts: Map<string, string[]>;
  tags: Set<string>;
  /** findingKey -> test status / expected / actual */
  results: Map<string, { status: string; expected: string | null; actual: string | null }>;
  resultElements: number;
}

type Obj = Record<string, string>;

export function extract(chunks: Iterable<Buffer>): Extracted {
  const out: Extracted = { root: null, title: null, errors: [], policies: [], hosts: new Map(), tags: new Set(), results: new Map(), resultElements: 0 };
  const stack: string[] = [];
  let text = '';
  let policy = '';
  let host: Obj = {};
  let control: Obj = {};
  let result: Obj = {};
  const hostsById = new Map<string, Obj>();
  let rootClosed = false;
  let ending = false;
  const parent = (n: number): string => stack[stack.length - 1 - n] ?? '';
  const p = new Parser(
    {
      onopentag(name, attrs) {
        if (stack.length === 0) {
          if (out.root !== null) out.errors.push(`second root ${name}`);
          out.root = name;
        }
        stack.push(name);
        text = '';
        if (name === 'HOST') host = {};
        if (name === 'CONTROL') control = {};
        if ((name === 'CONTROL' && parent(1) === 'CONTROL_LIST' && parent(2) === 'HOST') || (name === 'HOST' && parent(1) === 'HOST_LIST' && parent(2) === 'CONTROL')) result = {};
        if (name === 'CRITICALITY' && attrs.value) control.CRIT = attrs.value;
      },
      ontext(t) {
        text += t;
      },
      onclosetag(name, implied) {
        // self-closing tags arrive as implied closes too; only those forced by the end are errors
        if (implied && ending) out.errors.push(`unclosed ${name}`);
        const top = stack.pop();
        if (top !== name) out.errors.push(`close ${name} with ${top ?? 'nothing'} open`);
        if (stack.length === 0) rootClosed = true;
        const v = text.trim();
        text = '';
        if (name === 'NAME' && parent(0) === 'HEADER') out.title = v;
        if (name === 'ID' && parent(0) === 'POLICY') {
          policy = v;
          out.policies.push(v);
          out.hosts.set(v, []);
        }
        if (name === 'ASSET_TAG') out.tags.add(v);
        const hostField = ['IP', 'QG_HOSTID', 'HOST_ID', 'QUALYS_HOST_ID'].includes(name);
        if (hostField && parent(0) === 'HOST') host[name] = v;
        if (name === 'HOST' && (parent(0) === 'HOST_LIST' && parent(1) === 'POLICY' || parent(0) === 'HOST_STATISTICS')) {
          const id = host.QG_HOSTID ?? host.HOST_ID ?? host.QUALYS_HOST_ID ?? null;
          const hk = hostKey({ qualysHostId: id, ip: host.IP ?? null }) as string;
          out.hosts.get(policy)?.push(hk);
          hostsById.set(hk, host);
        }
        // fields of a result, or of a by-control CONTROL that its HOST results inherit
        const nested = ['TECHNOLOGY', 'EVIDENCE', 'CRITICALITY'].includes(parent(0));
        const d = nested ? 1 : 0;
        const ctx = parent(d);
        const target =
          ctx === 'CONTROL' && parent(d + 1) === 'CONTROL_LIST' && parent(d + 2) === 'HOST'
            ? result
            : ctx === 'CONTROL' && parent(d + 1) === 'CONTROL_LIST' && parent(d + 2) === 'POLICY'
              ? control
              : ctx === 'HOST' && parent(d + 1) === 'HOST_LIST' && parent(d + 2) === 'CONTROL'
                ? result
                : null;
        if (target) {
          if (parent(0) === 'TECHNOLOGY') target[name === 'NAME' ? 'TECH' : 'TECH_ID'] = v;
          else if (name === 'TECHNOLOGY' || name === 'TECHNOLOGY_NAME') {
            if (v !== '') target.TECH = v;
          } else if (!hostField) target[name] = v;
        }
        const endsResult = (name === 'CONTROL' && parent(0) === 'CONTROL_LIST' && parent(1) === 'HOST') || (name === 'HOST' && parent(0) === 'HOST_LIST' && parent(1) === 'CONTROL');
        if (endsResult) {
          out.resultElements++;
          const r: Obj = { ...control, ...result };
          const id = host;
          const qid = id.QG_HOSTID ?? id.HOST_ID ?? id.QUALYS_HOST_ID ?? null;
          const hk = hostKey({ qualysHostId: qid, ip: id.IP ?? null }) as string;
          const key = findingKey({ hostKey: hk, policyId: policy, controlId: r.CID ?? '', technology: r.TECH ?? null, instance: r.INSTANCE ?? null });
          if (out.results.has(key)) out.errors.push(`duplicate result ${key}`);
          out.results.set(key, {
            status: parseTestStatus(r.STATUS) ?? `bad:${r.STATUS}`,
            expected: r.EXPECTED ?? r.EXPECTED_VALUE ?? r.EXPECTED_RESULT ?? null,
            actual: r.ACTUAL ?? r.ACTUAL_VALUE ?? r.ACTUAL_RESULT ?? r.CURRENT_VALUE ?? null,
          });
          result = {};
        }
      },
      onerror(e) {
        out.errors.push(e.message);
      },
    },
    { xmlMode: true },
  );
  for (const c of chunks) {
    p.write(c.toString('utf8'));
  }
  ending = true;
  p.end();
  if (!rootClosed) out.errors.push('root not closed');
  if (stack.length) out.errors.push(`still open: ${stack.join('/')}`);
  return out;
}
