import tseslint from 'typescript-eslint';
import { sqlOutsideStorage } from './scripts/guards/sqlOutsideStorage.js';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'data/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Races hide in promises nobody awaits.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // config.ts is the one place the server reads the environment: its table is what the docs list.
    files: ['packages/server/src/**/*.ts'],
    ignores: ['packages/server/src/config.ts', '**/*.test.ts', '**/test/**'],
    rules: { 'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read settings from ctx.config; add the variable to the table in config.ts' }] },
  },
  {
    files: ['**/*.test.ts', '**/test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  // CommonJS config files (dependency-cruiser's) load what they need with require().
  { files: ['**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  // Guard rails (issue #17): no SQL outside packages/server/src/storage/. Import cycles between
  // folders are checked by dependency-cruiser (.dependency-cruiser.cjs), the second half of `npm run lint`.
  ...sqlOutsideStorage,
);
