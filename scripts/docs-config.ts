import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { configDocs, REPO_ROOT } from '../packages/server/src/configDocs.ts';

// `npm run docs:config`: rewrites the configuration tables of the docs from packages/server/src/config.ts.
for (const doc of configDocs()) {
  if (doc.current === doc.expected) continue;
  writeFileSync(path.join(REPO_ROOT, doc.file), doc.expected);
  console.log(`updated ${doc.file}`);
}
