import { defineConfig } from 'vite';

// The gateway serves the built page (web/dist, embedded into the binary by api/CMakeLists.txt).
// `npm run dev` proxies the API to a running gateway on :8080.
export default defineConfig({
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, assetsInlineLimit: 0, sourcemap: false },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/ws': { target: 'ws://127.0.0.1:8080', ws: true },
      '/openapi.yaml': 'http://127.0.0.1:8080',
    },
  },
});
