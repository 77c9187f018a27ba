/**
 * Console sign-in sessions, kept in Redis under the queue prefix with an expiry. The cookie holds a
 * random id only; Redis holds the id's SHA-256 (a copy of Redis cannot be replayed as cookies), the
 * role and a short fingerprint of the token that signed in, never the token: a session ends with its
 * token, so rotating QPC_API_TOKEN or dropping a viewer token signs its browsers out.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Request } from 'express';
import type { Redis } from 'ioredis';
import type { Role } from './auth.ts';

export const SESSION_COOKIE = 'qpc_session';
export const DEFAULT_SESSION_TTL_S = 12 * 3600;

export interface SessionStore {
  create(role: Role, token: string): Promise<string>;
  /** the role, while the token that signed in is still configured with it (`stillValid`) */
  role(id: string, stillValid: (fingerprint: string, role: Role) => boolean): Promise<Role | undefined>;
  destroy(id: string): Promise<void>;
  readonly ttlSeconds: number;
}

const ID = /^[A-Za-z0-9_-]{43}$/;

/** 64 bits of a domain-separated digest: enough to tell configured tokens apart, useless to guess one */
export const tokenFingerprint = (token: string) => createHash('sha256').update(`qpc-session\0${token}`, 'utf8').digest('hex').slice(0, 16);

export function redisSessions(redis: Redis, prefix: string, ttlSeconds = DEFAULT_SESSION_TTL_S): SessionStore {
  const key = (id: string) => `${prefix}:session:${createHash('sha256').update(id).digest('hex')}`;
  return {
    ttlSeconds,
    async create(role, token) {
      const id = randomBytes(32).toString('base64url');
      await redis.set(key(id), `${role}:${tokenFingerprint(token)}`, 'EX', ttlSeconds);
      return id;
    },
    async role(id, stillValid) {
      if (!ID.test(id)) return undefined;
      const [role, fingerprint] = (await redis.get(key(id)))?.split(':') ?? [];
      if ((role !== 'admin' && role !== 'viewer') || !fingerprint || !stillValid(fingerprint, role)) return undefined;
      return role;
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
