/**
 * Bearer-token auth. QPC_API_TOKEN is the admin; QPC_VIEWER_TOKENS may only read (GET/HEAD).
 * Tokens are compared as SHA-256 digests with timingSafeEqual, against every known token without an
 * early exit, so neither the length nor a matching prefix leaks through timing.
 *
 * Bull Board is a browser page, and a browser cannot add a Bearer header to a page load; under
 * /admin/queues the token is also accepted as the password of HTTP Basic auth (any user name), and a
 * 401 there asks the browser for it. It is still the Authorization header, never a query string.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiError } from './errors.ts';

export type Role = 'admin' | 'viewer';

export interface AuthTokens {
  admin: string;
  viewers: readonly string[];
}

declare module 'express-serve-static-core' {
  interface Request {
    role?: Role;
  }
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function createAuthenticator(tokens: AuthTokens) {
  const known = [
    { role: 'admin' as const, hash: digest(tokens.admin) },
    ...tokens.viewers.map((v) => ({ role: 'viewer' as const, hash: digest(v) })),
  ];
  return (presented: string): Role | undefined => {
    const h = digest(presented);
    let role: Role | undefined;
    for (const k of known) {
      // no early exit: every token is compared whatever matched before
      if (timingSafeEqual(h, k.hash) && role === undefined) role = k.role;
    }
    return role;
  };
}

/** The token from `Authorization: Bearer <t>`, or (when allowBasic) the password of `Basic`. */
export function presentedToken(header: string | undefined, allowBasic: boolean): string | undefined {
  if (!header) return undefined;
  const m = /^(\w+)\s+(.+)$/.exec(header.trim());
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  const value = m[2]!;
  if (scheme === 'bearer') return value;
  if (scheme === 'basic' && allowBasic) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

export interface AuthOptions {
  tokens: AuthTokens;
  /** paths answered without a token */
  publicPaths: readonly string[];
  /** path prefix where Basic is accepted and a 401 asks the browser for credentials */
  basicPrefix: string;
}

const READ_METHODS = new Set(['GET', 'HEAD']);

export function authMiddleware(opts: AuthOptions): RequestHandler {
  const authenticate = createAuthenticator(opts.tokens);
  const isPublic = new Set(opts.publicPaths);
  return (req: Request, res: Response, next: NextFunction) => {
    if (isPublic.has(req.path)) {
      next();
      return;
    }
    const board = req.path === opts.basicPrefix || req.path.startsWith(`${opts.basicPrefix}/`);
    const token = presentedToken(req.get('authorization'), board);
    const role = token === undefined ? undefined : authenticate(token);
    if (!role) {
      res.setHeader('WWW-Authenticate', board ? 'Basic realm="qpc", charset="UTF-8"' : 'Bearer realm="qpc"');
      next(new ApiError(401, 'UNAUTHORIZED', token === undefined ? 'missing bearer token' : 'invalid token'));
      return;
    }
    req.role = role;
    next();
  };
}

/** Viewers may read; anything else needs the admin token. */
export function requireRole(role: Role): RequestHandler {
  return (req, _res, next) => {
    if (role === 'admin' && req.role !== 'admin') {
      next(new ApiError(403, 'FORBIDDEN', 'this action needs the admin token'));
      return;
    }
    next();
  };
}

/** For mounted apps (Bull Board): viewers get read-only methods only. */
export function viewerReadOnly(): RequestHandler {
  return (req, _res, next) => {
    if (req.role !== 'admin' && !READ_METHODS.has(req.method)) {
      next(new ApiError(403, 'FORBIDDEN', 'viewers have a read-only board'));
      return;
    }
    next();
  };
}
