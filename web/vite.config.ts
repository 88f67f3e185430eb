/**
 * Builds the dashboard into dist/web, which `medsurface serve` hands out as static files.
 * The output must pass the server's CSP (`script-src 'self'; style-src 'self'`): no inline
 * script or style is emitted (modulePreload's polyfill is bundled, CSS goes to a file).
 */
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // Not `assets/`: that prefix is the dashboard's own route for a host (/assets/10.0.0.1).
    assetsDir: 'static',
    sourcemap: false,
    // No inline `data:` assets: everything is a file served from 'self'.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 900,
  },
  server: {
    host: '127.0.0.1',
    // `npx vite --config web/vite.config.ts` during development, beside `medsurface serve`.
    proxy: { '/api': 'http://127.0.0.1:8470' },
  },
});
