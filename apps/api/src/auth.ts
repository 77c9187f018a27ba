/**
 * Bearer-token auth. QPC_API_TOKEN is the admin; QPC_VIEWER_TOKENS may only read (GET/HEAD).
 * Tokens are compared as SHA-256 digests with timingSafeEqual, against every known token without an
 * early exit, so neither the length nor a matching prefix leaks through timing.
 *
 * Bull Board is a browser page, and a browser cannot add a Bearer header to a page load; under
 * /admin/queues the token is also accepted as the password of HTTP Basic auth (any user name), and a
 * 401 there asks the browser for it. It is still the Authorization header, never a query string.
 * The console signs in once (POST /api/session) and is then known by its session cookie, on /api and
 * on the board alike; writes carried by a cookie or by Basic must come from this server's own origin.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiError } from './errors.ts';
import { SESSION_COOKIE, readCookie, tokenFingerprint, type SessionStore } from './sessions.ts';

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
  /** paths answered with or without credentials (the role is set when there are some): sign-in */
  optionalPaths?: readonly string[];
  /** path prefix where Basic is accepted and a 401 asks the browser for credentials */
  basicPrefix: string;
  /** console sessions (the qpc_session cookie), accepted wherever a token is */
  sessions?: SessionStore;
}

const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * A write sent by a browser from another site. Browsers resend cookies and cached Basic credentials
 * on cross-site form posts, so such writes are refused; `Origin` decides, else `Sec-Fetch-Site`.
 */
export function isCrossOrigin(req: Request): boolean {
  const origin = req.get('origin');
  if (origin !== undefined) return origin.toLowerCase() !== `${req.protocol}://${req.get('host') ?? ''}`.toLowerCase();
  const site = req.get('sec-fetch-site');
  return site === 'cross-site' || site === 'same-site';
}

const crossOrigin = () => new ApiError(403, 'CROSS_ORIGIN', 'cross-origin writes are refused (Origin is not this server)');

export function authMiddleware(opts: AuthOptions): RequestHandler {
  const authenticate = createAuthenticator(opts.tokens);
  const isPublic = new Set(opts.publicPaths);
  const isOptional = new Set(opts.optionalPaths ?? []);
  const fingerprints = new Map<string, Role>([
    [tokenFingerprint(opts.tokens.admin), 'admin'],
    ...opts.tokens.viewers.map((v) => [tokenFingerprint(v), 'viewer'] as [string, Role]),
  ]);
  const resolve = async (req: Request, board: boolean): Promise<{ role?: Role; via?: 'header' | 'basic' | 'cookie'; token?: string }> => {
    const header = req.get('authorization');
    if (header) {
      const token = presentedToken(header, board);
      const via = /^\s*basic\s/i.test(header) ? 'basic' : 'header';
      return { via, ...(token === undefined ? {} : { token, role: authenticate(token) }) };
    }
    const id = opts.sessions ? readCookie(req, SESSION_COOKIE) : undefined;
    if (id === undefined || !opts.sessions) return {};
    const role = await opts.sessions.role(id, (fp, r) => fingerprints.get(fp) === r);
    return { via: 'cookie', token: id, ...(role ? { role } : {}) };
  };
  return (req: Request, res: Response, next: NextFunction) => {
    if (isPublic.has(req.path)) {
      next();
      return;
    }
    const optional = isOptional.has(req.path);
    const write = !READ_METHODS.has(req.method);
    // sign-in and sign-out are browser-only: checked before any credential
    if (optional && write && isCrossOrigin(req)) {
      next(crossOrigin());
      return;
    }
    const board = req.path === opts.basicPrefix || req.path.startsWith(`${opts.basicPrefix}/`);
    resolve(req, board).then(({ role, via, token }) => {
      if (!role) {
        if (optional) {
          next();
          return;
        }
        res.setHeader('WWW-Authenticate', board ? 'Basic realm="qpc", charset="UTF-8"' : 'Bearer realm="qpc"');
        const why = token === undefined ? 'missing bearer token' : via === 'cookie' ? 'session expired or signed out' : 'invalid token';
        next(new ApiError(401, 'UNAUTHORIZED', why));
        return;
      }
      if (write && (via === 'cookie' || via === 'basic') && isCrossOrigin(req)) {
        next(crossOrigin());
        return;
      }
      req.role = role;
      next();
    }, next);
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

const ADMIN_ONLY_BOARD_READS = new Set(['/api/redis/stats']);

/** A path as Express matches it: case-insensitive, decoded, trailing slashes ignored. */
function routeKey(path: string): string {
  let p = path;
  try {
    p = decodeURIComponent(path);
  } catch {
    // undecodable: compared as sent (the router cannot match it either)
  }
  return p.toLowerCase().replace(/\/+$/, '');
}

/** For mounted apps (Bull Board): viewers get read-only methods only, and no Redis details. */
export function viewerReadOnly(): RequestHandler {
  return (req, _res, next) => {
    if (req.role !== 'admin' && !READ_METHODS.has(req.method)) {
      next(new ApiError(403, 'FORBIDDEN', 'viewers have a read-only board'));
      return;
    }
    // Redis version, OS and memory are the operator's business
    if (req.role !== 'admin' && ADMIN_ONLY_BOARD_READS.has(routeKey(req.path))) {
      next(new ApiError(403, 'FORBIDDEN', 'the Redis details are for admins'));
      return;
    }
    next();
  };
}
