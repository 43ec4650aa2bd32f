// Folder cycles allowed for now, read by .dependency-cruiser.cjs (the check in `npm run lint`).
//
// KNOWN_FOLDER_CYCLES: the folder-to-folder imports that close a cycle today, allowed until the
// restructuring of issue #17 removes them. Every entry is checked to still be needed
// (scripts/guards/folderCycles.test.ts), so this list only shrinks; a NEW import that closes a cycle fails.
module.exports = [
  // The AI runner reads and writes messages through operations/ (messages.ts, users.ts, mentions.ts),
  // while operations/ asks ai/ about live answers (streams.ts) and models (models.ts). Ends when AI
  // stop/regenerate/models become ordinary operations and the runner reaches storage only through
  // operations (issue #17, items 2 and 3).
  ['packages/server/src/ai', 'packages/server/src/operations'],
  ['packages/server/src/operations', 'packages/server/src/ai'],
  // ai/ uses realtime/redis.ts for cross-node stop and live-answer state. Ends when cross-node
  // control moves out of realtime/ (issue #17, items 1 and 3).
  ['packages/server/src/ai', 'packages/server/src/realtime'],
  // These close a cycle only through the three above (http/routes/ai.ts → ai/models.ts, routes →
  // operations, realtime/dispatch.ts → http/errors.ts, gateway.ts → http/origins.ts, handlers →
  // operations); they stop being cycles when those go.
  ['packages/server/src/http', 'packages/server/src/ai'],
  ['packages/server/src/http', 'packages/server/src/operations'],
  ['packages/server/src/realtime', 'packages/server/src/http'],
  ['packages/server/src/realtime', 'packages/server/src/operations'],
];

