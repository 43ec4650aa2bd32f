// SQL lives in packages/server/src/storage/ (issue #17: a query layer). This ESLint config, part of
// eslint.config.js and so of `npm run lint`, fails on SQL text or a `.query(` call in any other
// server file. Tests and test helpers may run SQL to set up and check state.

/** SQL text: a string or template literal that starts with a statement keyword. */
const SQL_START = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\s/;
const SQL = SQL_START.source;

const message =
  'SQL belongs in packages/server/src/storage/ (the query layer): add a query function there and call it.';

/**
 * Files that held SQL outside storage/ when this check was written. Each stays allowed until the
 * query-layer work (issue #17, item 2) moves its SQL into storage/; that work empties this list.
 * Do not add to it: a new file puts its SQL in storage/.
 */
export const SQL_OUTSIDE_STORAGE_ALLOWED = [
  // AI: the runner's claim/stream/checkpoint/finish queries, model and key settings, the prompt's
  // history and the title's first message (moved out of the runner with their queries).
  'packages/server/src/ai/models.ts',
  'packages/server/src/ai/prompt.ts',
  'packages/server/src/ai/runner.ts',
  'packages/server/src/ai/titles.ts',
  // HTTP: the readiness probe's `SELECT 1`.
  'packages/server/src/http/routes/ops.ts',
  // The job queue's table.
  'packages/server/src/jobs/queue.ts',
  // Operations: each table's queries, to move into per-table modules in storage/.
  'packages/server/src/operations/attachments.ts',
  'packages/server/src/operations/auth.ts',
  'packages/server/src/operations/liveChanges.ts',
  'packages/server/src/operations/notifications.ts',
  'packages/server/src/operations/users.ts',
  // Realtime: presence's membership queries (realtime should call operations, never SQL).
  'packages/server/src/realtime/handlers/presence.ts',
  'packages/server/src/realtime/presence.ts',
];

/** @type {import('eslint').Linter.Config[]} */
export const sqlOutsideStorage = [
  {
    files: ['packages/server/src/**/*.ts'],
    ignores: [
      'packages/server/src/storage/**',
      '**/*.test.ts',
      '**/test/**',
      ...SQL_OUTSIDE_STORAGE_ALLOWED,
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
