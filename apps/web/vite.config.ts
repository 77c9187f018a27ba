// The console's build: one SPA in dist/, served by the API from the same origin (no CORS, cookie session).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  // tap's reporter hoists React 18 to the root node_modules: every import of React must get this app's 19
  resolve: { dedupe: ['react', 'react-dom'] },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, target: 'es2022' },
  // `npm run dev -w @qpc/web`: the API on its default port answers /api and the job board
  server: { proxy: { '/api': 'http://127.0.0.1:8080', '/admin': 'http://127.0.0.1:8080' } },
});
