// SQL lives in packages/server/src/storage/ (issue #17: a query layer). This ESLint config, part of
// eslint.config.js and so of `npm run lint`, fails on SQL text or a `.query(` call in any other
// server file. Tests and test helpers may run SQL to set up and check state.

/** SQL text: a string or template literal that starts with a statement keyword. */
const SQL_START = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\s/;
const SQL = SQL_START.source;

const message =
  'SQL belongs in packages/server/src/storage/ (the query layer): add a query function there and call it.';

/** @type {import('eslint').Linter.Config[]} */
export const sqlOutsideStorage = [
  {
    files: ['packages/server/src/**/*.ts'],
    ignores: [
      'packages/server/src/storage/**',
      '**/*.test.ts',
      '**/test/**',
    ],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: `Literal[value=/${SQL}/]`, message },
        { selector: `TemplateLiteral[quasis.0.value.raw=/${SQL}/]`, message },
        { selector: "CallExpression[callee.property.name='query']", message },
      ],
    },
  },
];
