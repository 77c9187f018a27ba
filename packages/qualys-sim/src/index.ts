export { startSimulator, type Simulator, type SimulatorOptions } from './server.ts';
export type { Faults, Limits, SimStats } from './control.ts';
export { DEFAULT_LIMITS } from './control.ts';
export {
  DEMO_SCENARIO,
  loadScenarioFile,
  resolveScenario,
  scenarioFileSchema,
  ScenarioError,
  type OutputFormat,
  type ReportState,
  type ReportType,
  type Scenario,
  type ScenarioFile,
  type ScenarioReport,
} from './scenario.ts';
export { CANONICAL_VARIANTS, DEFAULT_SPEC, reportSpec, type Layout, type Mutation, type Ratios, type ReportSize, type ReportSpec, type Variants } from './spec.ts';
export { generateReport, rejectSamples, type RejectSample, reportChunks, reportByteLength, reportByteLengthAsync, countResults, type Counts } from './generate.ts';
export { expectedRecords, type ExpectedOptions } from './expected.ts';
export { benchSpec, reportDigest, writeReportFile, type ReportDigest } from './report-file.ts';
export { reportEtag } from './reports.ts';
export { postureSources, type PostureSource } from './posture-estate.ts';
export { postureChunks, type PostureQuery } from './posture.ts';
