import { configDefaults, defineConfig } from 'vitest/config';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * Tests that need PostgreSQL by design (several server nodes share one database; the embedded one
 * lives in one process): they belong to the PostgreSQL pass and are left out of the embedded pass
 * here, rather than being reported as skipped. In the PostgreSQL pass they fail, loudly, when
 * PostgreSQL or Redis does not answer.
 */
const POSTGRES_ONLY = ['packages/server/src/realtime/multinode.test.ts', 'packages/server/src/realtime/crash.test.ts', '**/*.multinode.test.ts', '**/*.postgres.test.ts'];
const postgres = Boolean(process.env.CONFAB_TEST_DATABASE_URL);

/**
 * `npm test` (CONFAB_TEST_NO_SKIPS=1) fails a run in which any test was skipped: a test that lacks
 * a service must fail, not pass by not running. Runs filtered by hand (`-t`) skip on purpose.
 */
const noSkips: Reporter = {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>) {
    const skipped: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        if (test.result().state === 'skipped') skipped.push(`${module.relativeModuleId} > ${test.fullName}`);
      }
    }
    if (skipped.length === 0) return;
    console.error(`\n${skipped.length} test(s) skipped; npm test allows none:\n  ${skipped.join('\n  ')}\n`);
    process.exitCode = 1;
  },
};

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'e2e/**/*.test.ts', 'scripts/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...(postgres ? [] : POSTGRES_ONLY)],
    reporters: process.env.CONFAB_TEST_NO_SKIPS ? ['default', noSkips] : ['default'],
    // Each test file starts its own server and database; forks keep PGlite instances apart.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
