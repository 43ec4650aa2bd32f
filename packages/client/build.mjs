// Builds the SDK for Node consumers (bots, CLIs, load tests): one ESM file per entry point with the
// protocol package bundled in, so plain `node` can import it without a TypeScript loader.
// Bundlers (Vite, webpack) and TypeScript read the sources through the package's exports instead.
import { build } from 'esbuild';

await build({
  entryPoints: { index: 'src/index.ts' },
  outdir: 'dist',
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // Dependencies stay dependencies; only our own workspace code is bundled.
  external: ['socket.io-client', 'zod', 'react'],
  logLevel: 'warning',
});
