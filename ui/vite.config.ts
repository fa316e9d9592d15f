/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';

// The Tauri window loads ui/dist (embedded in the binary) or, with `tauri dev`,
// this dev server on a fixed port (tauri.conf.json `devUrl`).
export default defineConfig({
  plugins: [svelte(), svelteTesting()],
  clearScreen: false,
  server: {
    port: 5173,
    strictPort: true,
    host: 'localhost',
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Everything ships inside the binary; no inline assets so the strict CSP
    // (no data: scripts, no inline styles) holds.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['./vitest-setup.ts'],
    // A harness limit, not a speed requirement: a jsdom render of the
    // evidence log took over the 5 s default on the 2-core CI machine
    // while Rust built beside it.
    testTimeout: 60_000,
  },
});
