/**
 * The GLOSSARY of a posture answer, gathered as its elements close: hosts, controls, technologies,
 * expected-value tokens (TP, FV), data point descriptions (DPD) and translation maps (TM). It grows
 * with the hosts and controls the answer names, never with its rows.
 */
import { C, F } from './elements.ts';

export interface GlossaryHost {
  ip: string | null;
  dns: string | null;
  netbios: string | null;
  os: string | null;
  trackingMethod: string | null;
}

export interface GlossaryControl {
  statement: string | null;
  criticalityLabel: string | null;
  criticalityValue: string | null;
  references: string | null;
  /** a plain RATIONALE, or the first of RATIONALE_LIST */
  rationale: string | null;
  /** RATIONALE_LIST by TECHNOLOGY_ID */
  rationales: Map<string, string> | null;
  remediation: string | null;
}

/** A token label without its sigil: `$tp_3`, `#fv_12`, `:dp_1` and `tp_3` name the same entry. */
export function tokenKey(label: string): string {
  const c = label.charCodeAt(0);
  return c === 0x24 || c === 0x23 || c === 0x3a ? label.slice(1) : label;
}

export class Glossary {
  readonly hosts = new Map<string, GlossaryHost>();
  readonly controls = new Map<string, GlossaryControl>();
  readonly technologies = new Map<string, string>();
  /** TP and FV values by token key */
  readonly tokens = new Map<string, string[]>();
  /** DPD token key -> the TM label it names */
  readonly dpdTm = new Map<string, string>();
  /** TM label -> pairs */
  readonly tms = new Map<string, Map<string, string>>();
  /** the pairs of every TM, the first definition of a key winning (for data points no DPD ties to a TM) */
  readonly allPairs = new Map<string, string>();

  /** elements and values gathered so far: what the parser bounds */
  entries = 0;

  private v: (string | null)[] = [];
  private values: string[] = [];
  private rationaleTech: string | null = null;
  private rationaleText: string | null = null;
  private control: GlossaryControl | null = null;
  private tm: Map<string, string> | null = null;
  private tmLabel: string | null = null;

  begin(ctx: number): void {
    switch (ctx) {
      case C.CONTROL:
        this.control = { statement: null, criticalityLabel: null, criticalityValue: null, references: null, rationale: null, rationales: null, remediation: null };
        this.v = [null];
        break;
      case C.RATIONALE:
        this.rationaleTech = null;
        this.rationaleText = null;
        break;
      case C.TM:
        this.tm = new Map();
        this.tmLabel = null;
        break;
      case C.PAIR:
      case C.HOST:
      case C.TECH:
      case C.TOKEN:
      case C.DPD:
        this.v = [null, null, null, null, null, null, null];
        this.values = [];
        break;
      default:
        break;
    }
  }

  field(f: number, value: string): void {
    const c = this.control;
    switch (f) {
      case F.HOST_ID:
      case F.TECH_ID:
      case F.TOKEN_LABEL:
      case F.DPD_LABEL:
      case F.PAIR_K:
      case F.CONTROL_ID:
        this.v[0] = value;
        break;
      case F.HOST_IP:
      case F.TECH_NAME:
      case F.DPD_TM:
      case F.PAIR_V:
        this.v[1] = value;
        break;
      case F.HOST_DNS:
        this.v[2] = value;
        break;
      case F.HOST_NETBIOS:
        this.v[3] = value;
        break;
      case F.HOST_OS:
        this.v[4] = value;
        break;
      case F.HOST_TRACKING:
        this.v[5] = value;
        break;
      case F.TOKEN_V:
        this.entries++;
        this.values.push(value);
        break;
      case F.TM_LABEL:
        this.tmLabel = value;
        break;
      case F.RATIONALE_TECH:
        this.rationaleTech = value;
        break;
      case F.RATIONALE_TEXT:
        this.rationaleText = value;
        break;
      default:
        if (c) this.controlField(c, f, value);
    }
  }

  private controlField(c: GlossaryControl, f: number, value: string): void {
    switch (f) {
      case F.CONTROL_STATEMENT:
        c.statement = value;
        break;
      case F.CRIT_LABEL:
        c.criticalityLabel = value;
        break;
      case F.CRIT_VALUE:
        c.criticalityValue = value;
        break;
      case F.CONTROL_REFERENCE:
        c.references = value;
        break;
      case F.CONTROL_RATIONALE:
        c.rationale = value;
        break;
      case F.CONTROL_REMEDIATION:
        c.remediation = value;
        break;
      default:
        break;
    }
  }

  end(ctx: number): void {
    const v = this.v;
    this.entries++;
    switch (ctx) {
      case C.HOST:
        if (v[0]) this.hosts.set(v[0], { ip: v[1] ?? null, dns: v[2] ?? null, netbios: v[3] ?? null, os: v[4] ?? null, trackingMethod: v[5] ?? null });
        break;
      case C.CONTROL:
        if (v[0] && this.control) this.controls.set(v[0], this.control);
        this.control = null;
        break;
      case C.RATIONALE: {
        const c = this.control;
        if (!c || this.rationaleText === null) break;
        c.rationale ??= this.rationaleText;
        if (this.rationaleTech !== null) (c.rationales ??= new Map()).set(this.rationaleTech, this.rationaleText);
        break;
      }
      case C.TECH:
        if (v[0] && v[1]) this.technologies.set(v[0], v[1]);
        break;
      case C.TOKEN:
        if (v[0]) this.tokens.set(tokenKey(v[0]), this.values);
        break;
      case C.DPD:
        if (v[0] && v[1]) this.dpdTm.set(tokenKey(v[0]), v[1]);
        break;
      case C.PAIR:
        if (v[0] !== null && v[0] !== undefined && this.tm) {
          const k = v[0];
          const val = v[1] ?? '';
          this.tm.set(k, val);
          if (!this.allPairs.has(k)) this.allPairs.set(k, val);
        }
        break;
      case C.TM:
        if (this.tm && this.tmLabel) this.tms.set(this.tmLabel, this.tm);
        this.tm = null;
        break;
      default:
        break;
    }
  }
}
