#!/usr/bin/env node
// The `confab` command: the built bundle (`npm ci` and `npm start` build it; `npm run build -w @confab/server` again after changing the sources).
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(built)) {
  console.error('confab: the server is not built yet: run `npm run build -w @confab/server` (npm ci does it)');
  process.exit(1);
}
await import(built.href);
