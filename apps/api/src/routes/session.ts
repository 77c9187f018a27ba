/**
 * Console sign-in: a token (admin or viewer) is exchanged for an HttpOnly session cookie, so the
 * browser never keeps the token. The session lives in Redis (sessions.ts) until it expires or signs out.
 */
import { z } from 'zod';
import { createAuthenticator } from '../auth.ts';
import { ApiError } from '../errors.ts';
import type { ServerDeps } from '../server.ts';
import { SESSION_COOKIE, readCookie, sessionCookie } from '../sessions.ts';
import type { RouteTable } from './registry.ts';

export const SESSION_PATH = '/api/session';

export function sessionRoutes(table: RouteTable, deps: ServerDeps) {
  const authenticate = createAuthenticator(deps.tokens);
  const unauthorized = (message: string) => new ApiError(401, 'UNAUTHORIZED', message);

  table.add({
    method: 'post',
    path: SESSION_PATH,
    tag: 'session',
    summary: 'Sign in with a token: sets the qpc_session cookie (HttpOnly, SameSite=Strict)',
    role: 'public',
    body: z.strictObject({ token: z.string().min(1, 'is required').max(1000) }),
    responses: { 401: 'unknown token', 403: 'cross-origin request (CROSS_ORIGIN)' },
    handle: async ({ body, req, res }) => {
      const role = authenticate(body.token);
      if (!role) throw unauthorized('invalid token');
      const id = await deps.sessions.create(role, body.token);
      res.setHeader('Set-Cookie', sessionCookie(req, id, deps.sessions.ttlSeconds));
      return { role };
    },
  });

  table.add({
    method: 'get',
    path: SESSION_PATH,
    tag: 'session',
    summary: 'The role of this session (or of the token presented)',
    role: 'public',
    responses: { 401: 'not signed in' },
    handle: ({ req }) => {
      if (!req.role) throw unauthorized('not signed in');
      return { role: req.role };
    },
  });

  table.add({
    method: 'delete',
    path: SESSION_PATH,
    tag: 'session',
    summary: 'Sign out: the session is deleted and its cookie cleared',
    role: 'public',
    status: 204,
    responses: { 403: 'cross-origin request (CROSS_ORIGIN)' },
    handle: async ({ req, res }) => {
      const id = readCookie(req, SESSION_COOKIE);
      if (id !== undefined) await deps.sessions.destroy(id);
      res.setHeader('Set-Cookie', sessionCookie(req, '', 0));
    },
  });
}
