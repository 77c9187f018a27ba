/**
 * The push parser of a posture answer: UTF-8 bytes in (`write`, `end`); each INFO row out to `onRow`
 * as soon as it closes (to be staged: its host and control are named only by the GLOSSARY that follows
 * the rows); the glossary and the paging warning gathered. htmlparser2's XML tokenizer tokenizes; the
 * element stack, the limits and the refusals are those of @qpc/pc-report (same codes, same checks).
 */
import { Tokenizer, type TokenizerCallbacks } from 'htmlparser2';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_FIELD_LENGTH, declaresEntities, ENTITY_REFUSAL, Positions, QualysReturnError, ReportError, Utf8Stream } from '@qpc/pc-report';
import { C, F, FIELD, FOREIGN_ROOTS, IGNORE, POSTURE_ROOT, ROOTS, ROW_FIELDS, SHAPES, TABLES, shapeKey, type CompiledEntry } from './elements.ts';
import { Glossary } from './glossary.ts';
import { idMinOf } from './paging.ts';
import type { PagingWarning } from './records.ts';

/** One INFO row as read: kept compact until the glossary resolves it. */
export interface StagedRow {
  /** line of the INFO start tag */
  line: number;
  /** the ID of the POLICY around the row (grouped shape), else null */
  group: string | null;
  /** ROW_FIELDS values, trimmed, null when absent */
  f: (string | null)[];
  /** EVIDENCE/DPV_LIST: [label, value, value, ...] per DPV */
  dpvs: string[][];
}

export interface PostureLimits {
  /** deepest element nesting accepted (default 64) */
  maxDepth?: number;
  /** longest text field, attribute or single token, in characters (default 1 MiB) */
  maxFieldLength?: number;
  /** most GLOSSARY elements and values (default 1,000,000: the glossary is held in memory) */
  maxGlossaryEntries?: number;
}

const N_ROW = ROW_FIELDS.length;
// eslint-disable-next-line no-control-regex -- these are the characters we look for
const CONTROL_ALL = /[\u0000-\u0003]/g;

/** whether the bytes hold U+0000-U+0003 (a byte scan: a regular expression over the text cost 5% of the parse) */
function hasControl(b: Uint8Array): boolean {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length);
  return buf.indexOf(0) !== -1 || buf.indexOf(1) !== -1 || buf.indexOf(2) !== -1 || buf.indexOf(3) !== -1;
}

export class PostureParser {
  readonly glossary = new Glossary();
  warning: PagingWarning | null = null;
  rows = 0;

  private readonly maxDepth: number;
  private readonly maxField: number;
  private readonly maxGlossary: number;
  private readonly utf8 = new Utf8Stream();
  private readonly pos = new Positions();
  private readonly tokenizer: Tokenizer;
  private tokenStart = 0;
  private attrName = '';
  private attrValue = '';
  private attrs: Record<string, number> | null = null;

  private depth = 0;
  private readonly ctxs: Int32Array;
  private readonly fields: Int32Array;
  private readonly names: string[] = [];
  private readonly starts: number[] = [];
  /** the entry of the previous sibling at each depth (null: the first child), for the name guess */
  private readonly prevAt: (CompiledEntry | null)[] = [];
  /** the entry of the first child last seen in each context */
  private readonly firstIn: (CompiledEntry | undefined)[] = [];
  private text = '';
  private textRun = 0;

  private rootName: string | null = null;
  private rootClosed = false;
  private ending = false;

  private row: StagedRow | null = null;
  private group: string | null = null;
  private dpv: string[] | null = null;
  private warn: (string | null)[] = [null, null, null];
  private errorVals: (string | null)[] = [null, null];

  constructor(
    private readonly onRow: (row: StagedRow) => void,
    limits: PostureLimits = {},
  ) {
    this.maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxField = limits.maxFieldLength ?? DEFAULT_MAX_FIELD_LENGTH;
    this.maxGlossary = limits.maxGlossaryEntries ?? 1_000_000;
    this.ctxs = new Int32Array(this.maxDepth + 2);
    this.fields = new Int32Array(this.maxDepth + 2);
    const cbs: TokenizerCallbacks = {
      ontext: (start, end) => {
        this.tokenStart = end;
        this.onText(start, end);
      },
      ontextentity: (cp, end) => {
        this.tokenStart = end;
        this.onTextString(String.fromCodePoint(cp));
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
        if (this.attrValue.length > this.maxField) this.tooLarge(`attribute ${this.attrName} of <${this.names[this.depth]}>`, this.tokenStart);
      },
      onattribentity: (cp) => {
        this.attrValue += String.fromCodePoint(cp);
      },
      onattribend: (_quote, end) => {
        this.tokenStart = end;
        const f = this.attrs?.[this.attrName.toLowerCase()];
        const v = this.attrValue.trim();
        if (f !== undefined && v) this.assign(f, v);
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
        if (this.ending) return;
        if (this.depth > 0 && this.pos.matchAt(this.names[this.depth]!, start, end)) return this.close();
        const name = this.pos.slice(start, end);
        if (this.depth === 0) throw this.error('MALFORMED_XML', `closing tag </${name}> without an open element`, start - 2);
        if (name !== this.names[this.depth]) {
          throw this.error('MALFORMED_XML', `closing tag </${name}> where <${this.names[this.depth]}> (line ${this.pos.lineAt(this.starts[this.depth]!)}) is open`, start - 2);
        }
        this.close();
      },
      oncomment: (_start, end) => {
        this.tokenStart = end + 1;
      },
      ondeclaration: (start, end) => {
        this.tokenStart = end + 1;
        const data = this.pos.slice(start, end);
        if (declaresEntities(data)) throw this.error('ENTITY_DECLARATION', ENTITY_REFUSAL, start - 2);
      },
      onprocessinginstruction: (_start, end) => {
        this.tokenStart = end + 1;
      },
      onend: () => {},
    };
    this.tokenizer = new Tokenizer({ xmlMode: true, decodeEntities: true }, cbs);
  }

  get bytes(): number {
    return this.utf8.bytes;
  }

  get invalidUtf8(): number {
    return this.utf8.invalid;
  }

  write(chunk: Uint8Array): void {
    let s = this.utf8.write(chunk);
    // U+0000-U+0003 are not XML characters; the row stage uses them as separators
    if (hasControl(chunk)) s = s.replace(CONTROL_ALL, '\uFFFD');
    if (s.length) this.feed(s);
  }

  /** The input is complete: refuses an empty or cut answer and a Qualys error envelope. */
  end(): void {
    const s = this.utf8.end();
    if (s.length) this.feed(s);
    this.ending = true;
    this.tokenizer.end();
    if (this.rootName === null) {
      const bytes = this.utf8.bytes;
      if (bytes === 0) throw new ReportError('EMPTY_INPUT', 'the input is empty (0 bytes): no posture answer');
      const head = this.pos.head(60).trim().replace(/\s+/g, ' ');
      throw new ReportError('EMPTY_INPUT', `no XML root element in ${bytes} bytes${head ? ` (the input starts with ${JSON.stringify(head)})` : ''}`, { byteOffset: bytes });
    }
    if (!this.rootClosed) {
      const open = this.names.slice(1, this.depth + 1);
      const inner = open.length > 1 ? `; still open: ${open.slice(-4).join(' > ')}` : '';
      throw new ReportError('TRUNCATED', `the input ends before the root element <${this.rootName}> is closed: the answer is cut${inner}`, {
        line: this.pos.lineAt(this.pos.chars),
        byteOffset: this.utf8.bytes,
      });
    }
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

  private tooLarge(what: string, at: number): never {
    throw this.error('FIELD_TOO_LARGE', `${what} is larger than ${this.limitText()}`, at);
  }

  /**
   * An element starts: its name is first compared in place with the entry that followed the previous
   * sibling last time (answers repeat the same sequence), else sliced and looked up in the table.
   */
  private onOpenTag(start: number, end: number): void {
    if (this.ending) return;
    const d = this.depth + 1;
    const parent = d > 1 && d <= this.maxDepth ? this.ctxs[d - 1]! : -99;
    if (parent < 0) return this.onOpen(this.pos.slice(start, end), start - 1, undefined);
    const prev = this.prevAt[d] ?? null;
    const guess = prev ? prev.next : this.firstIn[parent];
    let e: CompiledEntry | undefined;
    let name: string;
    if (guess && this.pos.matchAt(guess.name, start, end)) {
      e = guess;
      name = guess.name;
    } else {
      e = this.byShape(parent, start, end);
      name = e ? e.name : this.pos.slice(start, end);
      e ??= TABLES[parent]?.get(name);
      if (e) {
        if (prev) prev.next = e;
        else this.firstIn[parent] = e;
      }
    }
    this.prevAt[d] = e ?? null;
    this.onOpen(name, start - 1, e);
  }

  /** the entry whose name is the text between the offsets, found by its shape (undefined: unsure) */
  private byShape(parent: number, start: number, end: number): CompiledEntry | undefined {
    const cands = SHAPES[parent]?.get(shapeKey(end - start, this.pos.charCodeAt(start), this.pos.charCodeAt(end - 1)));
    if (cands) for (const c of cands) if (this.pos.matchAt(c.name, start, end)) return c;
    return undefined;
  }

  private onOpen(name: string, start: number, e: CompiledEntry | undefined): void {
    const d = ++this.depth;
    this.textRun = 0;
    this.attrs = null;
    if (d > this.maxDepth) throw this.error('TOO_DEEP', `element <${name}> is nested deeper than ${this.maxDepth} levels`, start);
    this.names[d] = name;
    this.starts[d] = start;
    this.prevAt[d + 1] = null;
    if (d === 1) return this.openRoot(name, start);
    const parent = this.ctxs[d - 1]!;
    if (parent < 0) {
      // inside an ignored element, or inside a field (whose text includes its descendants')
      this.ctxs[d] = parent === FIELD ? FIELD : IGNORE;
      this.fields[d] = -1;
      return;
    }
    if (e === undefined) {
      this.ctxs[d] = IGNORE;
      this.fields[d] = -1;
      return;
    }
    this.ctxs[d] = e.ctx;
    this.fields[d] = e.field;
    if (e.attrs) this.attrs = e.attrs;
    if (e.field >= 0) this.text = '';
    if (e.ctx >= 0) this.enter(e.ctx, start);
  }

  private openRoot(name: string, start: number): void {
    if (this.rootName !== null) throw this.error('MALFORMED_XML', `a second root element <${name}> after </${this.rootName}>`, start);
    const ctx = ROOTS[name];
    if (ctx === undefined) {
      const what = FOREIGN_ROOTS[name];
      throw this.error('NOT_A_POSTURE_LIST', `the root element is <${name}>${what ? `: ${what}` : ''}; a posture answer's root is <${POSTURE_ROOT}>`, start);
    }
    this.rootName = name;
    this.ctxs[1] = ctx;
    this.fields[1] = -1;
  }

  private onText(start: number, end: number): void {
    if (end <= start) return;
    if (this.fields[this.depth]! >= 0 || this.ctxs[this.depth] === FIELD) this.onTextString(this.pos.slice(start, end));
    else if ((this.textRun += end - start) > this.maxField) this.tooLarge(`the text of <${this.names[this.depth]}>`, this.starts[this.depth]!);
  }

  private onTextString(s: string): void {
    if (this.fields[this.depth]! >= 0 || this.ctxs[this.depth] === FIELD) {
      this.text += s;
      if (this.text.length > this.maxField) this.tooLarge(`the text of <${this.names[this.depth]}>`, this.starts[this.depth]!);
    } else if ((this.textRun += s.length) > this.maxField) {
      this.tooLarge(`the text of <${this.names[this.depth]}>`, this.starts[this.depth]!);
    }
  }

  private close(): void {
    const d = this.depth;
    this.textRun = 0;
    this.attrs = null;
    const f = this.fields[d]!;
    if (f >= 0) {
      const v = this.text.trim();
      this.text = '';
      if (v) this.assign(f, v);
    }
    const ctx = this.ctxs[d]!;
    if (ctx >= 0 && d > 1) this.exit(ctx);
    this.depth--;
    if (d === 1) this.closeRoot();
  }

  private closeRoot(): void {
    this.rootClosed = true;
    const ctx = this.ctxs[1];
    if (ctx === C.SIMPLE || ctx === C.GENERIC) {
      throw new QualysReturnError(this.rootName ?? '?', this.errorVals[0] ?? null, this.errorVals[1] ?? null, { line: this.pos.lineAt(this.starts[1]!) });
    }
  }

  private enter(ctx: number, start: number): void {
    switch (ctx) {
      case C.INFO:
        this.row = { line: this.pos.lineAt(start), group: this.group, f: new Array<string | null>(N_ROW).fill(null), dpvs: [] };
        break;
      case C.POLICY:
        this.group = null;
        break;
      case C.DPV:
        this.dpv = [''];
        break;
      case C.WARNING:
        this.warn = [null, null, null];
        break;
      default:
        if (ctx >= C.HOSTS && ctx <= C.PAIR) this.glossary.begin(ctx);
    }
  }

  private exit(ctx: number): void {
    switch (ctx) {
      case C.INFO:
        if (this.row) {
          this.rows++;
          this.onRow(this.row);
        }
        this.row = null;
        break;
      case C.POLICY:
        this.group = null;
        break;
      case C.DPV:
        if (this.row && this.dpv) this.row.dpvs.push(this.dpv);
        this.dpv = null;
        break;
      case C.WARNING: {
        const [code, text, url] = this.warn;
        this.warning = { code: code ?? null, text: text ?? null, url: url ?? null, nextIdMin: idMinOf(url ?? null) };
        break;
      }
      default:
        if (ctx >= C.HOSTS && ctx <= C.PAIR) {
          this.glossary.end(ctx);
          if (this.glossary.entries > this.maxGlossary) this.glossaryTooLarge();
        }
    }
  }

  private assign(f: number, v: string): void {
    if (f < N_ROW) {
      if (this.row) this.row.f[f] = v;
      return;
    }
    switch (f) {
      case F.POLICY_ID:
        this.group = v;
        return;
      case F.DPV_LABEL:
        if (this.dpv) this.dpv[0] = v;
        return;
      case F.DPV_V:
        this.dpv?.push(v);
        return;
      case F.WARNING_CODE:
      case F.WARNING_TEXT:
      case F.WARNING_URL:
        this.warn[f - F.WARNING_CODE] = v;
        return;
      case F.ERROR_CODE:
      case F.ERROR_TEXT:
        this.errorVals[f - F.ERROR_CODE] = v;
        return;
      default:
        this.glossary.field(f, v);
        if (this.glossary.entries > this.maxGlossary) this.glossaryTooLarge();
    }
  }

  private glossaryTooLarge(): never {
    throw this.error('GLOSSARY_TOO_LARGE', `the GLOSSARY has more than ${this.maxGlossary} elements and values (it is held in memory)`, this.starts[this.depth]!);
  }
}
