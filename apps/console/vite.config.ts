import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The console is served by the controller from apps/console/dist; `/api` is the controller's REST API, so the dev
// server proxies it (FEDPBX_API_URL, default the controller's default listen address).
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  // Contracts come from their TypeScript sources, like everywhere else in the workspace (no prior build).
  resolve: { conditions: ['@fedpbx/source'] },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 600 },
  server: { proxy: { '/api': process.env['FEDPBX_API_URL'] ?? 'http://127.0.0.1:8080' } },
});
