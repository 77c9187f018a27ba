/**
 * The web console's built files (apps/web/dist, or QPC_WEB_DIR) at /, before auth: the page must load
 * to offer the sign-in, and it holds no data. Any GET outside the API's own prefixes answers
 * index.html, so the console's client-side routes survive a reload.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler } from 'express';

/** apps/web/dist, from src/ (tsx) and from dist/ (the bundle) alike: both sit one level below apps/api */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web/dist', import.meta.url));

const RESERVED = [/^\/api(\/|$)/i, /^\/admin(\/|$)/i, /^\/(healthz|readyz|metrics)\/?$/i];

export const isConsolePath = (p: string) => !RESERVED.some((r) => r.test(p));

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>QPC console</title></head>
<body><h1>The web console is not built</h1><p>Run <code>npm run build</code>, then reload this page.</p></body></html>
`;

// the console is never framed by another site (clickjacking) and its files are served as typed
const setSecurityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', "frame-ancestors 'none'");
  next();
};

export function consoleFiles(dir: string = DEFAULT_WEB_DIR): RequestHandler {
  const root = path.resolve(dir);
  const index = path.join(root, 'index.html');
  const files = express.static(root, { index: false, fallthrough: true, redirect: false });
  const router = express.Router();
  router.use((req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !isConsolePath(req.path)) {
      next('router');
      return;
    }
    setSecurityHeaders(req, res, next);
  });
  router.use(files);
  router.use((_req, res, next) => {
    stat(index).then(
      (s) => {
        if (!s.isFile()) throw new Error('not a file');
        res.setHeader('Cache-Control', 'no-cache');
        res.sendFile(index, (err) => {
          if (err && !res.headersSent) next(err);
        });
      },
      () => {
        res.status(200).type('html').setHeader('Cache-Control', 'no-store');
        res.send(NOT_BUILT);
      },
    );
  });
  return router;
}
