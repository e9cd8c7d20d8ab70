import { defineConfig } from 'vitest/config';
import swc from 'unplugin-swc';

// One runner for the whole workspace. Packages are resolved from their TypeScript sources through the
// `@fedpbx/source` export condition, so tests never need a prior build.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: { conditions: ['@fedpbx/source'] },
  ssr: { resolve: { conditions: ['@fedpbx/source'] } },
  test: {
    include: ['libs/*/src/**/*.spec.ts', 'apps/*/src/**/*.spec.ts', 'test/**/*.spec.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
