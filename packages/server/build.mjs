// Builds the server into one ESM file (dist/main.js) so that `npm start` runs plain JavaScript:
// starting through the TypeScript loader takes clearly longer than the built file (docs/benchmarks.md),
// and start-up is how long a restarted node keeps its clients waiting. Dependencies stay in node_modules; only our own
// workspace code (the server and the protocol package) is bundled. `npm run dev` and the tests run
// the sources directly.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

await build({
  // Wherever it is run from (npm runs it in packages/server, the benchmarks from the root).
  absWorkingDir: fileURLToPath(new URL('.', import.meta.url)),
  // The worker threads (embedded database, PDF text) are loaded from beside main.js (see
  // storage/db.ts and files/text.ts).
  entryPoints: { main: 'src/main.ts', cli: 'src/cli.ts', embeddedWorker: 'src/storage/embeddedWorker.js', pdfWorker: 'src/files/pdfWorker.js' },
  outdir: 'dist',
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  external: Object.keys(pkg.dependencies).filter((name) => !name.startsWith('@confab/')),
  logLevel: 'warning',
});
