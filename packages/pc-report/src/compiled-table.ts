/** The element table of mapping.ts, compiled once into numeric form for the parser's hot path. */
import {
  ELEMENTS,
  ERROR_FIELDS,
  HEADER_FIELDS,
  HOST_FIELDS,
  POLICY_FIELDS,
  RESULT_FIELDS,
  type Entry,
  type Field,
  type Scope,
} from './mapping.ts';

export const G_HEADER = 0;
export const G_POLICY = 1;
export const G_HOST = 2;
export const G_RESULT = 3;
export const G_ERROR = 4;

const GROUPS: readonly (readonly string[])[] = [HEADER_FIELDS, POLICY_FIELDS, HOST_FIELDS, RESULT_FIELDS, ERROR_FIELDS];
export const GROUP_SIZES = GROUPS.map((g) => g.length);

/** scope number of an element that is ignored with everything inside it */
export const IGNORE = -1;
/** scope number of a text field element (its descendants' text belongs to it) */
export const FIELD = -2;

export const SCOPES = Object.keys(ELEMENTS) as Scope[];
export const scopeId = (s: Scope): number => SCOPES.indexOf(s);

export interface FieldRef {
  group: number;
  index: number;
}

export interface CompiledEntry {
  /** the element name (the table's own string) */
  name: string;
  /** learned while parsing: the entry that followed this one last time (the next sibling is usually the same) */
  next: CompiledEntry | null;
  /** FIELD, or the scope number the element opens */
  scope: number;
  /** the field a text element fills, or a container's own text (TECHNOLOGY, EVIDENCE); else null */
  text: FieldRef | null;
  /** attribute name (lower case) -> field */
  attrs: Map<string, FieldRef> | null;
}

export function fieldRef(field: Field): FieldRef {
  for (let group = 0; group < GROUPS.length; group++) {
    const index = GROUPS[group]!.indexOf(field);
    if (index !== -1) return { group, index };
  }
  throw new Error(`mapping: unknown field ${field}`);
}

export const RESULT = Object.fromEntries(RESULT_FIELDS.map((f, i) => [f, i])) as Record<(typeof RESULT_FIELDS)[number], number>;
export const HOST = Object.fromEntries(HOST_FIELDS.map((f, i) => [f, i])) as Record<(typeof HOST_FIELDS)[number], number>;
export const HEADER = Object.fromEntries(HEADER_FIELDS.map((f, i) => [f, i])) as Record<(typeof HEADER_FIELDS)[number], number>;
export const TAG_INDEX = HOST.tag;

/** scope number -> element name -> entry */
export type CompiledTable = Map<string, CompiledEntry>[];

export function compileTable(elements: Record<Scope, Record<string, Entry>>): CompiledTable {
  return SCOPES.map((scope) => compileScope(elements[scope] ?? {}));
}

function compileScope(entries: Record<string, Entry>): Map<string, CompiledEntry> {
  const m = new Map<string, CompiledEntry>();
  for (const [name, e] of Object.entries(entries)) {
    if ('field' in e) {
      m.set(name, { name, next: null, scope: FIELD, text: fieldRef(e.field), attrs: null });
    } else {
      const attrs = e.attrs
        ? new Map(Object.entries(e.attrs).map(([a, fl]) => [a.toLowerCase(), fieldRef(fl)] as const))
        : null;
      const scope = scopeId(e.scope);
      if (scope < 0) throw new Error(`mapping: unknown scope ${e.scope} for ${name}`);
      m.set(name, { name, next: null, scope, text: e.text ? fieldRef(e.text) : null, attrs });
    }
  }
  return m;
}

export const TABLES: CompiledTable = compileTable(ELEMENTS);
