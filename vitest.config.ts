import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Model tests are CPU-heavy; two forks match the 2-core machines CI runs on.
    pool: 'forks',
    maxWorkers: 2,
  },
});
