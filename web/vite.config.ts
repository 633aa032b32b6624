import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The UI is built into dist/web, where Pier serves it (src/http/ui.ts). `npm run dev:web` serves it
// with Vite on :5173 and forwards the API to a Pier on :5000.
const pier = process.env.PIER_URL ?? 'http://127.0.0.1:5000';
const routerDist = (file: string) => fileURLToPath(new URL(`../node_modules/react-router/dist/production/${file}`, import.meta.url));

export default defineConfig(({ mode }) => ({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // every browser Pier supports preloads modules itself: no polyfill in the first load
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    rolldownOptions: {
      // react-router marks its modules "use client" (for server components): meaningless in a browser bundle
      onLog(level, log, handler) {
        if (log.code === 'MODULE_LEVEL_DIRECTIVE') return;
        handler(level, log);
      },
    },
  },
  resolve: {
    // react-router's package exports point at its development build only (warnings, dev checks):
    // a production build takes the production files it ships beside them
    alias:
      mode === 'production'
        ? [
            { find: /^react-router$/, replacement: routerDist('index.mjs') },
            { find: /^react-router\/dom$/, replacement: routerDist('dom-export.mjs') },
          ]
        : [],
  },
  oxc: { jsx: { runtime: 'automatic' } },
  server: { proxy: { '/api': pier, '/v2': pier, '/token': pier } },
}));
