import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration files share one Cassandra on a 2-core machine: a couple of workers is plenty.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 240_000,
    // CI also writes a JSON report, from which .ci/run prints its "N passed, N failed" line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      // Pure logic: no Cassandra.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'cassandra',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          // One Cassandra for these files, found or started before the first of them.
          globalSetup: ['test/helpers/global-setup.ts'],
        },
      },
      // The fault suite (issue 11): 3-node clusters of their own, killed, frozen and overloaded.
      // Not part of `npm test`: `npm run test:faults` (CI runs it with CASSETTE_CI_FAULTS=1, see .ci/run). One file at
      // a time: two 3-node clusters at once would starve a 2-core machine.
      {
        extends: true,
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
