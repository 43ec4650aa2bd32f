// Import cycles between folders, checked by `npm run lint` (dependency-cruiser, folder scope: a
// folder's files count as one unit, nested folders as part of their parent). A cycle between
// folders means neither can be understood, tested or moved without the other.
//
// The cycles known today are allowed, each listed with its reason, in
// scripts/guards/knownFolderCycles.cjs; any other import that closes a cycle fails.
// CONFAB_KNOWN_CYCLES=none drops the list, so that its test can see every cycle there is; a JSON
// list there replaces it (the test checks that a listed cycle is allowed and an unlisted one is not).
const fromEnv = process.env.CONFAB_KNOWN_CYCLES;
const KNOWN_FOLDER_CYCLES =
  fromEnv === 'none' ? [] : fromEnv ? JSON.parse(fromEnv) : require('./scripts/guards/knownFolderCycles.cjs');

const exact = (folders) => `^(${folders.map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`;
const fromFolders = [...new Set(KNOWN_FOLDER_CYCLES.map(([from]) => from))];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycle',
      comment: 'This import closes a cycle between folders: move the shared part to a folder both can import.',
      severity: 'error',
      scope: 'folder',
      from: { pathNot: exact(fromFolders) },
      to: { circular: true },
    },
    // Folders with known cycles: any cycle other than their listed ones still fails.
    ...fromFolders.map((from) => ({
      name: 'no-folder-cycle',
      comment: 'This import closes a cycle between folders: move the shared part to a folder both can import.',
      severity: 'error',
      scope: 'folder',
      from: { path: exact([from]) },
      to: { circular: true, pathNot: exact(KNOWN_FOLDER_CYCLES.filter(([f]) => f === from).map(([, to]) => to)) },
    })),
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
