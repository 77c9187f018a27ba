export * from './records.ts';
export { parseReport, parseReportToArray, type ParseReportOptions } from './parse-report.ts';
export { ReportParser, type ParserOptions } from './report-parser.ts';
export { ReportError, QualysReturnError, type ReportErrorCode } from './errors.ts';
export { ELEMENTS, ROOTS, FOREIGN_ROOTS, type Entry, type Field, type Scope } from './mapping.ts';
export { splitEvidence } from './evidence.ts';
/** the input guards, shared with the posture parser: UTF-8 decoding across chunks, offsets to lines and bytes */
export { Utf8Stream } from './utf8.ts';
export { Positions } from './positions.ts';
export { declaresEntities, ENTITY_REFUSAL, DEFAULT_MAX_DEPTH, DEFAULT_MAX_FIELD_LENGTH } from './guards.ts';
