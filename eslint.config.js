import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { readdirSync, readFileSync, existsSync } from 'node:fs';

// packages are libraries: they may not import an app (the apps' package names are read from apps/*)
const appPackages = readdirSync(new URL('./apps/', import.meta.url))
  .map((dir) => new URL(`./apps/${dir}/package.json`, import.meta.url))
  .filter((file) => existsSync(file))
  .map((file) => JSON.parse(readFileSync(file, 'utf8')).name);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const appImport = `^(${appPackages.map(escape).join('|')})(\\/|$)|^\\.\\.?\\/(.*\\/)?apps\\/`;
const appImportMessage = 'a package may not import an app; move what both need into a package';
const appImportSyntax = { selector: `ImportExpression[source.value=/${appImport}/]`, message: appImportMessage };

// Runs are written by the store's run-lifecycle module only: a write call on `<x>.runs` or on
// `collection('runs' | COLLECTIONS.runs)` anywhere else in apps/*/src and packages/*/src fails lint.
// No other file is exempt: a stage claims, completes and fails its run through the lifecycle's functions.
const RUN_LIFECYCLE = 'packages/store/src/pipeline/runs.repository.ts';
const writeMethod = '/^(insertOne|insertMany|updateOne|updateMany|replaceOne|deleteOne|deleteMany|findOneAndUpdate|findOneAndReplace|findOneAndDelete|bulkWrite|drop|rename)$/';
const runsWriteMessage = `runs are written only by the run-lifecycle module (${RUN_LIFECYCLE}): call its functions`;
const runsWriteSyntax = [
  { selector: `CallExpression[callee.property.name=${writeMethod}][callee.object.property.name='runs']`, message: runsWriteMessage },
  { selector: `CallExpression[callee.property.name=${writeMethod}][callee.object.callee.property.name='collection'][callee.object.arguments.0.value='runs']`, message: runsWriteMessage },
  { selector: `CallExpression[callee.property.name=${writeMethod}][callee.object.callee.property.name='collection'][callee.object.arguments.0.property.name='runs']`, message: runsWriteMessage },
];

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/.tap/**', '**/.turbo/**', '.qpc/**', '**/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    files: ['packages/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: appImport, message: appImportMessage }] }],
      'no-restricted-syntax': ['error', appImportSyntax],
    },
  },
  // (a later no-restricted-syntax replaces an earlier one for the same file: the packages' entry repeats the import rule)
  { files: ['apps/*/src/**'], ignores: [RUN_LIFECYCLE], rules: { 'no-restricted-syntax': ['error', ...runsWriteSyntax] } },
  { files: ['packages/*/src/**'], ignores: [RUN_LIFECYCLE], rules: { 'no-restricted-syntax': ['error', appImportSyntax, ...runsWriteSyntax] } },
  {
    // the console runs in the browser
    files: ['apps/web/src/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // the CLI's own output, scripts and benchmarks print to the terminal on purpose
    files: ['apps/cli/**', 'scripts/**', '**/bench/**', 'apps/qualys-sim/src/**'],
    rules: { 'no-console': 'off' },
  },
);
