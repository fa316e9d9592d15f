import { defineConfig } from 'vitest/config';

// The UI benchmark (`npm run bench:ui`): browser-tests/ui-bench.ts prints
// its numbers; it asserts nothing about timings.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['browser-tests/ui-bench.ts'],
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 120_000,
    disableConsoleIntercept: true,
  },
});
