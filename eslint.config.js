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
      'no-restricted-syntax': ['error', { selector: `ImportExpression[source.value=/${appImport}/]`, message: appImportMessage }],
    },
  },
  {
    // the CLI's own output, scripts and benchmarks print to the terminal on purpose
    files: ['apps/cli/**', 'scripts/**', '**/bench/**', 'apps/qualys-sim/src/**'],
    rules: { 'no-console': 'off' },
  },
);
