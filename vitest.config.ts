import { defineConfig } from 'vitest/config';
import swc from 'unplugin-swc';
import { testDatabaseKind } from './apps/controller/src/testing/test-database.js';

// One runner for the whole workspace. Packages are resolved from their TypeScript sources through the
// `@fedpbx/source` export condition, so tests never need a prior build.
export default defineConfig(async () => {
  // PostgreSQL when it answers, else the embedded database for the controller suites (said once, by the global
  // setup). PGlite creates each database with an initdb of its own (seconds idle, tens of seconds on a loaded
  // machine) where PostgreSQL's CREATE DATABASE is instant: the embedded run allows set-up that long.
  const embedded = (await testDatabaseKind()).kind === 'embedded';
  return {
    plugins: [swc.vite({ module: { type: 'es6' } })],
    resolve: { conditions: ['@fedpbx/source'] },
    ssr: { resolve: { conditions: ['@fedpbx/source'] } },
    test: {
      include: ['libs/*/src/**/*.spec.ts', 'apps/*/src/**/*.spec.ts', 'test/**/*.spec.ts'],
      globalSetup: ['test/support/database-global-setup.ts'],
      testTimeout: embedded ? 90_000 : 20_000,
      hookTimeout: embedded ? 240_000 : 60_000,
      pool: 'forks',
      // expect.poll waits for something that must come true (an agent reconnecting, a revision applied): on a loaded
      // 2-core runner that can take more than vitest's default second. A test of "does not happen" never polls.
      expect: { poll: { timeout: 5_000 } },
    },
  };
});
