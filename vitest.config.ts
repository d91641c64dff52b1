import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/install/ builds and packs the package: `npm run test:install` (vitest.install.config.ts).
    exclude: [...configDefaults.exclude, 'test/install/**'],
    // forks, not threads: a native addon is safest in its own process, and tests that send
    // signals to the process must not hit a sibling test file.
    pool: 'forks',
    // Lifetime tests check that unreachable events and old versions are really collected.
    execArgv: ['--expose-gc'],
    testTimeout: 20_000,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
  },
});
