/**
 * The push parser: UTF-8 bytes in (`write`, `end`), normalized records out (`out`). htmlparser2's XML
 * mode tokenizer does the tokenizing (entities, CDATA, comments, declarations); this class keeps its own
 * element stack (so a mismatched closing tag is an error, not silently repaired), a scope stack driven
 * by the table of mapping.ts, and turns closed elements into records. Text is sliced only inside the
 * fields we want. Synchronous; parse-report.ts wraps it into an async iterable.
 */
import { Tokenizer, type TokenizerCallbacks } from 'htmlparser2';
import { ROOTS, FOREIGN_ROOTS, type Entry, type Scope } from './mapping.ts';
import {
  FIELD,
  G_ERROR,
  G_HEADER,
  G_HOST,
  G_POLICY,
  G_RESULT,
  IGNORE,
  TABLES,
  compileTable,
  type CompiledTable,
  TAG_INDEX,
  scopeId,
  type CompiledEntry,
  type FieldRef,
} from './compiled-table.ts';
import { ReportError, QualysReturnError } from './errors.ts';
import { Positions } from './positions.ts';
import { Utf8Stream } from './utf8.ts';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_FIELD_LENGTH, declaresEntities, ENTITY_REFUSAL } from './guards.ts';
import { RecordBuilder } from './record-builder.ts';
import type { ReportRecord } from './records.ts';

export interface ParserOptions {
  /** a different element table (default: ELEMENTS of mapping.ts), e.g. to try an alias first */
  elements?: Record<Scope, Record<string, Entry>>;
  /** deepest element nesting accepted (default 64) */
  maxDepth?: number;
  /** longest text field, attribute or single token, in characters (default 1 MiB) */
  maxFieldLength?: number;
}

const S_REPORT = scopeId('report');
const S_RESULTS = scopeId('results');
const S_POLICY = scopeId('policy');
const S_HOST_LIST = scopeId('hostList');
const S_HOST_STATS = scopeId('hostStats');
const S_CONTROL_LIST = scopeId('controlList');
const S_HOST = scopeId('host');
const S_STATS_HOST = scopeId('statsHost');
const S_HOST_CONTROLS = scopeId('hostControls');
const S_HOST_CONTROL = scopeId('hostControl');
const S_CONTROL = scopeId('control');
const S_CONTROL_HOSTS = scopeId('controlHosts');
const S_CONTROL_HOST = scopeId('controlHost');
const S_EXCEPTION = scopeId('exception');
const S_SIMPLE_RETURN = scopeId('simpleReturn');
const S_GENERIC_RETURN = scopeId('genericReturn');

/** Text of one element, gathered piece by piece without concatenating on every event. */
class Collector {
  ref: FieldRef = { group: 0, index: 0 };
  first = '';
  parts: string[] | null = null;
  len = 0;
  reset(ref: FieldRef): this {
    this.ref = ref;
    this.first = '';
    this.parts = null;
    this.len = 0;
    return this;
  }
  add(s: string): void {
    if (this.len === 0) this.first = s;
    else if (this.parts) this.parts.push(s);
    else this.parts = [this.first, s];
    this.len += s.length;
  }
  value(): string | null {
    if (this.len === 0) return null;
    const v = (this.parts ? this.parts.join('') : this.first).trim();
    this.first = '';
    this.parts = null;
    return v.length ? v : null;
  }
}

export class ReportParser {
  /** records produced and not yet taken */
  out: ReportRecord[] = [];

  private readonly maxDepth: number;
  private readonly maxField: number;
  private readonly utf8 = new Utf8Stream();
  private readonly pos = new Positions();
  private readonly tokenizer: Tokenizer;
  /** character offset just after the last token event: where the token being read started */
  private tokenStart = 0;
  private attrName = '';
  private attrValue = '';
  private readonly b: RecordBuilder;
  private readonly tables: CompiledTable;

  private depth = 0;
  private readonly scopes: Int32Array;
  private readonly names: string[] = [];
  private readonly lines: Int32Array;
  /** where each open element starts (character offset) */
  private readonly starts: number[] = [];
  /** the entry of the previous sibling at each depth (null: the first child), for the name guess */
  private readonly prevAt: (CompiledEntry | null)[] = [];
  /** the entry of the first child last seen in each scope */
  private readonly firstIn: (CompiledEntry | undefined)[] = [];
  private readonly colls: (Collector | null)[] = [];
  private readonly pool: Collector[] = [];
  private attrs: Map<string, FieldRef> | null = null;
  private textRun = 0;

  private rootName: string | null = null;
  private rootScope = -1;
  private rootClosed = false;
  private ending = false;

  constructor(limits: ParserOptions = {}) {
    this.maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.tables = limits.elements ? compileTable(limits.elements) : TABLES;
    this.maxField = limits.maxFieldLength ?? DEFAULT_MAX_FIELD_LENGTH;
    this.scopes = new Int32Array(this.maxDepth + 2);
    this.lines = new Int32Array(this.maxDepth + 2);
    for (let i = 0; i <= this.maxDepth + 2; i++) {
      this.pool.push(new Collector());
      this.colls.push(null);
      this.prevAt.push(null);
      this.starts.push(0);
      this.names.push('');
    }
    this.b = new RecordBuilder(this.out, (at) => this.pos.lineAt(at));
    const cbs: TokenizerCallbacks = {
      ontext: (start, end) => {
        this.tokenStart = end;
        this.onText(start, end);
      },
      ontextentity: (cp, end) => {
        this.tokenStart = end;
        this.onTextString(String.fromCodePoint(cp), 1);
      },
      oncdata: (start, end, offset) => {
        this.tokenStart = end + 1;
        this.onText(start, end - offset);
      },
      onopentagname: (start, end) => {
        this.tokenStart = end;
        this.onOpenTag(start, end);
      },
      onattribname: (start, end) => {
        this.tokenStart = end;
        this.attrName = this.pos.slice(start, end);
        this.attrValue = '';
      },
      onattribdata: (start, end) => {
        this.tokenStart = end;
        this.attrValue += this.pos.slice(start, end);
        if (this.attrValue.length > this.maxField) this.attrTooLarge();
      },
      onattribentity: (cp) => {
        this.attrValue += String.fromCodePoint(cp);
      },
      onattribend: (_quote, end) => {
        this.tokenStart = end;
        this.onAttribute(this.attrName, this.attrValue);
        this.attrValue = '';
      },
      onopentagend: (end) => {
        this.tokenStart = end + 1;
        this.attrs = null;
      },
      onselfclosingtag: (end) => {
        this.tokenStart = end + 1;
        this.close();
      },
      onclosetag: (start, end) => {
        this.tokenStart = end + 1;
        // the usual case, the innermost element closes: compared in place, no string made
        if (this.depth > 0 && !this.ending && this.pos.matchAt(this.names[this.depth]!, start, end)) this.close();
        else this.onCloseTag(this.pos.slice(start, end), start - 2);
      },
      oncomment: (_start, end) => {
        this.tokenStart = end + 1;
      },
      ondeclaration: (start, end) => {
        this.tokenStart = end + 1;
        this.onDeclaration(this.pos.slice(start, end), start - 2);
      },
      onprocessinginstruction: (_start, end) => {
        this.tokenStart = end + 1;
      },
      onend: () => {},
    };
    this.tokenizer = new Tokenizer({ xmlMode: true, decodeEntities: true }, cbs);
  }

  write(chunk: Uint8Array): void {
    const s = this.utf8.write(chunk);
    if (s.length) this.feed(s);
  }

  /** The input is complete: checks the root was closed and adds the summary record. */
  end(): void {
    const s = this.utf8.end();
    if (s.length) this.feed(s);
    this.ending = true;
    this.tokenizer.end();
    if (this.rootName === null) {
      const bytes = this.utf8.bytes;
      if (bytes === 0) throw new ReportError('EMPTY_INPUT', 'the input is empty (0 bytes): no report');
      const head = this.pos.head(60).trim().replace(/\s+/g, ' ');
      throw new ReportError(
        'EMPTY_INPUT',
        `no XML root element in ${bytes} bytes${head ? ` (the input starts with ${JSON.stringify(head)})` : ''}: no report`,
        { byteOffset: bytes },
      );
    }
    if (!this.rootClosed) {
      const open = this.names.slice(1, this.depth + 1);
      const inner = open.length > 1 ? `; still open: ${open.slice(-4).join(' > ')}` : '';
      throw new ReportError(
        'TRUNCATED',
        `the input ends before the root element <${this.rootName}> is closed: the report is cut (an incomplete download?)${inner}`,
        { line: this.pos.lineAt(this.pos.chars), byteOffset: this.utf8.bytes },
      );
    }
    this.b.finish(this.utf8.bytes, this.utf8.invalid);
  }

  private feed(s: string): void {
    this.pos.append(s, this.utf8.nextByteStart, this.tokenStart);
    this.tokenizer.write(s);
    // a token still being read (CDATA, comment, tag, declaration) must not grow without bound
    if (this.pos.chars - this.tokenStart > this.maxField + 64) {
      throw this.error('FIELD_TOO_LARGE', `a single token (CDATA section, comment, tag or declaration) is larger than ${this.limitText()}`, this.tokenStart);
    }
  }

  private limitText(): string {
    return this.maxField === 1024 * 1024 ? '1 MiB (1048576 characters)' : `${this.maxField} characters`;
  }

  private error(code: ReportError['code'], message: string, at: number): ReportError {
    return new ReportError(code, message, { line: this.pos.lineAt(at), byteOffset: this.pos.byteAt(at) });
  }

  /**
   * An element starts: its name is first compared in place with the entry that followed the previous
   * sibling last time (reports repeat the same sequence), else sliced and looked up in the table.
   */
  private onOpenTag(start: number, end: number): void {
    if (this.ending) return;
    const d = this.depth + 1;
    const parent = d > 1 && d <= this.maxDepth ? this.scopes[d - 1]! : -99;
    if (parent < 0) return this.onOpen(this.pos.slice(start, end), start - 1, undefined);
    const prev = this.prevAt[d] ?? null;
    const guess = prev ? prev.next : this.firstIn[parent];
    let e: CompiledEntry | undefined;
    let name: string;
    if (guess && this.pos.matchAt(guess.name, start, end)) {
      e = guess;
      name = guess.name;
    } else {
      name = this.pos.slice(start, end);
      e = this.tables[parent]!.get(name);
      if (e) {
        if (prev) prev.next = e;
        else this.firstIn[parent] = e;
      }
    }
    this.prevAt[d] = e ?? null;
    this.onOpen(name, start - 1, e);
  }

  private onOpen(name: string, start: number, e: CompiledEntry | undefined): void {
    const d = ++this.depth;
    this.textRun = 0;
    this.attrs = null;
    if (d > this.maxDepth) {
      throw this.error('TOO_DEEP', `element <${name}> is nested deeper than ${this.maxDepth} levels`, start);
    }
    this.names[d] = name;
    this.starts[d] = start;
    this.prevAt[d + 1] = null;
    if (d === 1) return this.openRoot(name, start);
    const parent = this.scopes[d - 1]!;
    if (parent < 0) {
      // inside an ignored element, or inside a text field (whose text includes its descendants')
      this.scopes[d] = parent;
      this.colls[d] = parent === FIELD ? this.colls[d - 1]! : null;
      return;
    }
    if (e === undefined) {
      this.scopes[d] = IGNORE;
      this.colls[d] = null;
      return;
    }
    this.scopes[d] = e.scope;
    this.colls[d] = e.text ? this.pool[d]!.reset(e.text) : null;
    this.attrs = e.attrs;
    if (e.scope >= 0) this.enter(e.scope, start);
  }

  private openRoot(name: string, start: number): void {
    if (this.rootName !== null) {
      throw this.error('MALFORMED_XML', `a second root element <${name}> after </${this.rootName}>`, start);
    }
    const scope = ROOTS[name];
    if (scope === undefined) {
      const what = FOREIGN_ROOTS[name];
      throw this.error(
        'NOT_A_POLICY_REPORT',
        `the root element is <${name}>${what ? `: ${what}` : ', not a policy report'}; a Policy Report's root is <COMPLIANCE_POLICY_REPORT> or <POLICY_REPORT>`,
        start,
      );
    }
    this.rootName = name;
    this.rootScope = scopeId(scope);
    this.scopes[1] = this.rootScope;
    this.colls[1] = null;
    this.lines[1] = this.pos.lineAt(start);
    this.b.root = name;
  }

  private attrTooLarge(): never {
    throw this.error('FIELD_TOO_LARGE', `attribute ${this.attrName} of <${this.names[this.depth]}> is larger than ${this.limitText()}`, this.tokenStart);
  }

  private onAttribute(name: string, value: string): void {
    if (value.length > this.maxField) this.attrTooLarge();
    if (this.attrs === null) return;
    const ref = this.attrs.get(name.toLowerCase());
    if (ref) this.assign(ref, value.trim() || null);
  }

  private onText(start: number, end: number): void {
    if (end <= start) return;
    const c = this.colls[this.depth];
    if (c) this.onTextString(this.pos.slice(start, end), end - start);
    else if ((this.textRun += end - start) > this.maxField) this.tooLarge();
  }

  private onTextString(text: string, n: number): void {
    this.textRun += n;
    const c = this.colls[this.depth];
    if (c) {
      c.add(text);
      if (c.len > this.maxField) this.tooLarge();
    } else if (this.textRun > this.maxField) {
      this.tooLarge();
    }
  }

  private tooLarge(): never {
    throw this.error('FIELD_TOO_LARGE', `the text of <${this.names[this.depth]}> is larger than ${this.limitText()}`, this.starts[this.depth] ?? this.tokenStart);
  }

  private onCloseTag(name: string, at: number): void {
    if (this.ending) return;
    const d = this.depth;
    if (d === 0) {
      throw this.error('MALFORMED_XML', `closing tag </${name}> without an open element`, at);
    }
    if (name !== this.names[d]) {
      throw this.error('MALFORMED_XML', `closing tag </${name}> where <${this.names[d]}> (line ${this.pos.lineAt(this.starts[d]!)}) is open`, at);
    }
    this.close();
  }

  /** the innermost open element ends */
  private close(): void {
    const d = this.depth;
    this.textRun = 0;
    this.attrs = null;
    const scope = this.scopes[d]!;
    const c = this.colls[d];
    if (c && c === this.pool[d]) {
      const v = c.value();
      if (c.ref.group === G_HOST && c.ref.index === TAG_INDEX) {
        if (v !== null) this.b.addTag(v);
      } else if (v !== null) {
        this.assign(c.ref, v);
      }
    }
    this.colls[d] = null;
    if (scope >= 0) this.exit(scope);
    this.depth--;
    if (d === 1) this.closeRoot();
  }

  private closeRoot(): void {
    this.rootClosed = true;
    if (this.rootScope === S_SIMPLE_RETURN || this.rootScope === S_GENERIC_RETURN) {
      const [code, text] = this.b.errorVals;
      throw new QualysReturnError(this.rootName ?? '?', code ?? null, text ?? null, { line: this.lines[1] });
    }
    this.b.header();
  }

  /** `<!...>` other than comments and CDATA: DOCTYPE (its internal subset is cut at the first `>`), ENTITY, ... */
  private onDeclaration(data: string, at: number): void {
    if (declaresEntities(data)) throw this.error('ENTITY_DECLARATION', ENTITY_REFUSAL, at);
  }

  private assign(ref: FieldRef, v: string | null): void {
    if (v === null) return;
    switch (ref.group) {
      case G_RESULT:
        this.b.resultVals[ref.index] = v;
        break;
      case G_HOST:
        if (ref.index === TAG_INDEX) this.b.addTag(v);
        else this.b.hostVals[ref.index] = v;
        break;
      case G_HEADER:
        this.b.headerVals[ref.index] = v;
        break;
      case G_POLICY:
        this.b.policyVals[ref.index] = v;
        break;
      case G_ERROR:
        this.b.errorVals[ref.index] = v;
        break;
    }
  }

  private enter(scope: number, start: number): void {
    const b = this.b;
    switch (scope) {
      case S_HOST_CONTROL:
        b.startResult(start, false);
        break;
      case S_CONTROL_HOST:
        b.startHost(start);
        b.startResult(start, false);
        break;
      case S_HOST:
      case S_STATS_HOST:
        b.startHost(start);
        break;
      case S_CONTROL:
        b.startResult(start, true);
        break;
      case S_HOST_CONTROLS:
        b.freezeHost();
        break;
      case S_CONTROL_HOSTS:
        b.freezeControl();
        break;
      case S_EXCEPTION:
        b.markException();
        break;
      case S_POLICY:
        b.startPolicy(start);
        break;
      case S_HOST_LIST:
      case S_HOST_STATS:
      case S_CONTROL_LIST:
        b.policy();
        break;
      case S_RESULTS:
        b.header();
        break;
      default:
        break;
    }
  }

  private exit(scope: number): void {
    const b = this.b;
    switch (scope) {
      case S_HOST_CONTROL:
        b.endHostControl();
        break;
      case S_CONTROL_HOST:
        b.endControlHost();
        break;
      case S_HOST:
        b.endHost();
        break;
      case S_STATS_HOST:
        b.endStatsHost();
        break;
      case S_CONTROL:
        b.endControl();
        break;
      case S_POLICY:
        b.policy();
        break;
      case S_REPORT:
        break;
      default:
        break;
    }
  }
}
