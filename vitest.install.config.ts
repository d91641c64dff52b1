import { defineConfig } from 'vitest/config';

// The install tests (test/install/): they build, pack and install the package, so they run on
// their own (npm run test:install), one file at a time, with long timeouts.
export default defineConfig({
  test: {
    include: ['test/install/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
