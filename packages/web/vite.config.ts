import { defineConfig } from 'vite';

/**
 * `npm run dev:web` serves the app on :5173, reloading on every change, and forwards the API and the socket to
 * the server that `npm run dev` runs on :3000 (CONFAB_DEV_SERVER overrides it), so the app talks to
 * one origin, as it does when the server serves the build.
 */
const target = process.env.CONFAB_DEV_SERVER ?? 'http://localhost:3000';

/*
 * JSX is compiled by Vite's esbuild with React's automatic runtime (as tsconfig says). Not
 * @vitejs/plugin-react: hoisted to the root, it imports the root's Vite 8 (vitest's), takes this
 * for a Rolldown Vite and breaks the dev server of our Vite 7. Edits reload the page instead of
 * hot-swapping components.
 */
export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'react' },
  server: {
    port: 5173,
    proxy: {
      '/api': { target, changeOrigin: true },
      '/socket.io': { target, changeOrigin: true, ws: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      output: {
        manualChunks(id) {
          if (id.includes('highlight.js')) return 'highlight';
          if (id.includes('node_modules/react') || id.includes('node_modules/scheduler')) return 'react';
          return undefined;
        },
      },
    },
  },
});
