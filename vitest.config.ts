import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Each test file starts its own Postgres clusters; two cores do not gain from more workers.
    maxWorkers: 2,
    teardownTimeout: 30_000,
  },
});
