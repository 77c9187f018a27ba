/**
 * Guards both streaming parsers share (Policy Reports here, Compliance Posture answers in @qpc/pc-posture):
 * one rule, one place.
 */

/** The limits a parser applies unless told otherwise. */
export const DEFAULT_MAX_DEPTH = 64;
export const DEFAULT_MAX_FIELD_LENGTH = 1024 * 1024;

/**
 * Whether a `<!...>` declaration (DOCTYPE with its internal subset cut at the first `>`, ENTITY, ...)
 * declares entities: refused by both parsers (entity expansion is an attack vector, and Qualys answers
 * never declare any).
 */
export function declaresEntities(declaration: string): boolean {
  return /^ENTITY\b/i.test(declaration) || (/^DOCTYPE\b/i.test(declaration) && declaration.includes('[') && /<!ENTITY/i.test(declaration));
}

export const ENTITY_REFUSAL = 'the document declares entities in a DOCTYPE internal subset: refused (entity expansion is an attack vector, and Qualys answers never do this)';
