// Import cycles between folders, checked by `npm run lint` (dependency-cruiser, folder scope: a
// folder's files count as one unit, nested folders as part of their parent). A cycle between
// folders means neither can be understood, tested or moved without the other: move the shared
// part to a folder both can import (docs/architecture.md, "Layers", says which folder may import which).

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycle',
      comment: 'This import closes a cycle between folders: move the shared part to a folder both can import.',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    // The server's layers (docs/architecture.md, "Layers"): storage/ at the bottom holds SQL and
    // imports no other server folder; ai/ (providers, model catalog, live text) sits just above it;
    // assistant/ (the runner) is at the top and only the composition root starts it.
    {
      name: 'storage-is-the-bottom',
      comment: 'storage/ holds SQL only: it takes plain arguments and returns rows, and imports nothing of the server above it.',
      severity: 'error',
      from: { path: '^packages/server/src/storage/' },
      to: { path: '^packages/server/src/(?!storage/)' },
    },
    {
      name: 'ai-below-operations',
      comment: 'ai/ talks to providers and keeps live text; the rules and the runner that use it live in operations/ and assistant/.',
      severity: 'error',
      from: { path: '^packages/server/src/ai/' },
      to: { path: '^packages/server/src/(operations|assistant|realtime|http|storage)/' },
    },
    {
      name: 'assistant-started-by-server-only',
      comment: 'Operations reach the assistant through ctx.answers (context.ts) and domain events, never by importing it.',
      severity: 'error',
      from: { path: '^packages/server/src/', pathNot: '^packages/server/src/(assistant/|server\\.ts$)' },
      to: { path: '^packages/server/src/assistant/' },
    },
  ],
  options: {
    // Type-only imports count: a type shared both ways ties two folders as much as a value does.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    // Tests and test helpers may reach into any folder; the structure checked is the shipped code's.
    exclude: { path: ['node_modules', '/dist/', '\\.test\\.tsx?$', '/test/', '/fixtures/'] },
    doNotFollow: { path: 'node_modules' },
  },
};
