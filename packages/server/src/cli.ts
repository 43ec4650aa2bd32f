import { runCli } from './cli/main.ts';

/** The `confab` command (package.json `bin`); see cli/main.ts. */
process.exitCode = await runCli(process.argv.slice(2));
