export * from './records.ts';
export { parsePosture, parsePostureToArray, type ParsePostureOptions } from './parse-posture.ts';
export { PostureParser, type PostureLimits, type StagedRow } from './posture-parser.ts';
export { idMinOf } from './paging.ts';
export { Resolver, OR, ACTUAL_SEPARATOR, type ResolveOptions } from './resolve.ts';
export { TempFileStage, type RowStage } from './row-stage.ts';
export { POSTURE_ROOT, ROW_FIELDS } from './elements.ts';
