/**
 * Console sign-in sessions, kept in Redis under the queue prefix with an expiry. The cookie holds a
 * random id only; Redis holds the id's SHA-256 (a copy of Redis cannot be replayed as cookies) and the
 * role, never the token that signed in.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Request } from 'express';
import type { Redis } from 'ioredis';
import type { Role } from './auth.ts';

export const SESSION_COOKIE = 'qpc_session';
export const DEFAULT_SESSION_TTL_S = 12 * 3600;

export interface SessionStore {
  create(role: Role): Promise<string>;
  role(id: string): Promise<Role | undefined>;
  destroy(id: string): Promise<void>;
  readonly ttlSeconds: number;
}

const ID = /^[A-Za-z0-9_-]{43}$/;

export function redisSessions(redis: Redis, prefix: string, ttlSeconds = DEFAULT_SESSION_TTL_S): SessionStore {
  const key = (id: string) => `${prefix}:session:${createHash('sha256').update(id).digest('hex')}`;
  return {
    ttlSeconds,
    async create(role) {
      const id = randomBytes(32).toString('base64url');
      await redis.set(key(id), role, 'EX', ttlSeconds);
      return id;
    },
    async role(id) {
      if (!ID.test(id)) return undefined;
      const v = await redis.get(key(id));
      return v === 'admin' || v === 'viewer' ? v : undefined;
    },
    async destroy(id) {
      if (ID.test(id)) await redis.del(key(id));
    },
  };
}

/** The value of one cookie of the request (no cookie library for one name). */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.get('cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(req: Request, id: string, maxAgeS: number): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeS}${req.secure ? '; Secure' : ''}`;
}
