/**
 * Console sessions (sign in, cookie on /api and on the board, sign out, expiry in Redis) and the
 * refusal of cross-origin writes carried by a cookie or by Basic (D6), real Redis and HTTP.
 */
import { createHash } from 'node:crypto';
import t from 'tap';
import { Redis } from 'ioredis';
import { httpServer } from '@qpc/testing';
import { createServer } from '../src/server.ts';
import { ADMIN, VIEWER, startApi, type Api } from './helpers.ts';

const api = await startApi(t);
const redis = new Redis(api.redisUrl);
t.teardown(() => redis.quit());

const EVIL = 'http://evil.example';

async function signIn(a: Api, token: string, headers: Record<string, string> = {}) {
  const r = await a.call('POST', '/api/session', { token: null, body: { token }, headers });
  const setCookie = r.headers.get('set-cookie') ?? '';
  const id = /^qpc_session=([^;]*)/.exec(setCookie)?.[1];
  return { r, setCookie, id, cookie: `qpc_session=${id ?? ''}` };
}

const connectorBody = (name: string) => ({
  name, url: 'https://qualys.example', username: 'u', password: 'p4ss-word', network: 'n1', reportTitlePrefix: 'PC',
});

t.test('sign in: a cookie holding a random id, the session in Redis with an expiry, never the token', async (t) => {
  const bad = await signIn(api, `${ADMIN}x`);
  t.equal(bad.r.status, 401);
  t.equal(bad.r.json.error.code, 'UNAUTHORIZED');
  t.equal(bad.setCookie, '', 'no cookie for a wrong token');
  t.equal((await api.call('POST', '/api/session', { token: null, body: {} })).status, 400);

  const s = await signIn(api, ADMIN);
  t.equal(s.r.status, 200);
  t.same(s.r.json, { role: 'admin' });
  t.match(s.setCookie, /; HttpOnly/);
  t.match(s.setCookie, /; SameSite=Strict/);
  t.match(s.setCookie, /; Path=\//);
  t.notMatch(s.setCookie, /Secure/, 'plain http: no Secure flag');
  t.ok(s.id && s.id.length >= 32, 'a long random id');
  t.notMatch(s.setCookie, ADMIN);
  const key = `${api.prefix}:session:${createHash('sha256').update(s.id!).digest('hex')}`;
  t.match(await redis.get(key), /^admin:[0-9a-f]{16}$/, 'stored under the queue prefix by its digest: the role and a token fingerprint');
  const ttl = await redis.ttl(key);
  t.ok(ttl > 12 * 3600 - 60 && ttl <= 12 * 3600, `expires in 12 h (${ttl} s)`);
  const [, keys] = await redis.scan('0', 'MATCH', `${api.prefix}:session:*`, 'COUNT', 1000);
  t.ok(keys.length > 0);
  for (const k of keys) t.notMatch(`${k} ${await redis.get(k)}`, ADMIN, 'the token is not in Redis');

  t.same((await api.call('GET', '/api/session', { token: null, headers: { cookie: s.cookie } })).json, { role: 'admin' });
  const none = await api.call('GET', '/api/session', { token: null });
  t.equal(none.status, 401);
  t.equal((await api.call('GET', '/api/session', { token: null, headers: { cookie: 'qpc_session=forged' } })).status, 401);
});

t.test('the cookie is accepted by /api and by the board; writes only from the own origin', async (t) => {
  const s = await signIn(api, ADMIN);
  const cookie = { cookie: s.cookie };
  t.equal((await api.call('GET', '/api/connectors', { token: null, headers: cookie })).status, 200);
  t.equal((await api.call('GET', '/admin/queues/api/queues', { token: null, headers: cookie })).status, 200, 'no second sign-in on the board');

  const same = await api.call('POST', '/api/connectors', { token: null, headers: { ...cookie, origin: api.base }, body: connectorBody('same-origin') });
  t.equal(same.status, 201, 'same-origin write with the cookie');
  const noOrigin = await api.call('POST', '/api/connectors', { token: null, headers: { ...cookie, 'sec-fetch-site': 'same-origin' }, body: connectorBody('fetch-site') });
  t.equal(noOrigin.status, 201, 'Sec-Fetch-Site: same-origin');

  const before = (await api.call('GET', '/api/connectors')).json.items.length;
  const evil = await api.call('POST', '/api/connectors', { token: null, headers: { ...cookie, origin: EVIL }, body: connectorBody('evil') });
  t.equal(evil.status, 403);
  t.equal(evil.json.error.code, 'CROSS_ORIGIN');
  for (const site of ['cross-site', 'same-site']) {
    const r = await api.call('POST', '/api/connectors', { token: null, headers: { ...cookie, 'sec-fetch-site': site }, body: connectorBody(site) });
    t.equal(r.json?.error?.code, 'CROSS_ORIGIN', `Sec-Fetch-Site: ${site} without Origin`);
  }
  const nullOrigin = await api.call('DELETE', `/api/connectors/${same.json.id}`, { token: null, headers: { ...cookie, origin: 'null' } });
  t.equal(nullOrigin.json?.error?.code, 'CROSS_ORIGIN', 'Origin: null (sandboxed frame)');
  t.equal((await api.call('GET', '/api/connectors')).json.items.length, before, 'nothing written by a refused request');

  const bearer = await api.call('POST', '/api/connectors', { headers: { origin: EVIL }, body: connectorBody('bearer-client') });
  t.equal(bearer.status, 201, 'a Bearer client is not a browser form: unaffected');
  const read = await api.call('GET', '/api/connectors', { token: null, headers: { ...cookie, origin: EVIL } });
  t.equal(read.status, 200, 'reads are not writes');
});

t.test('D6: a cross-site form post with cached Basic credentials adds no job on the board', async (t) => {
  const basic = `Basic ${Buffer.from(`ops:${ADMIN}`).toString('base64')}`;
  const post = (origin: string) =>
    fetch(`${api.base}/admin/queues/api/queues/finalize/add`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'text/plain', origin },
      body: JSON.stringify({ name: 'finalize', data: { connectorId: 'c', runId: 'r' } }),
    });
  const evil = await post(EVIL);
  t.equal(evil.status, 403);
  t.equal(((await evil.json()) as { error: { code: string } }).error.code, 'CROSS_ORIGIN');
  t.equal(await api.deps.queues.finalize.count(), 0, 'no job added');

  const s = await signIn(api, ADMIN);
  const viaCookie = await api.call('PUT', '/admin/queues/api/queues/sync/clean/completed', { token: null, headers: { cookie: s.cookie, origin: EVIL } });
  t.equal(viaCookie.json?.error?.code, 'CROSS_ORIGIN', 'the board with the session cookie');
  const own = await api.call('PUT', '/admin/queues/api/queues/sync/clean/completed', { token: null, headers: { cookie: s.cookie, origin: api.base } });
  t.equal(own.status, 200, 'the board itself (same origin) still writes');
});

t.test('viewers: read-only with a session too, and no Redis details on the board', async (t) => {
  const v = await signIn(api, VIEWER);
  t.same(v.r.json, { role: 'viewer' });
  const cookie = { cookie: v.cookie };
  t.equal((await api.call('GET', '/api/connectors', { token: null, headers: cookie })).status, 200);
  const w = await api.call('POST', '/api/connectors', { token: null, headers: { ...cookie, origin: api.base }, body: connectorBody('by-viewer') });
  t.equal(w.status, 403);
  t.equal(w.json.error.code, 'FORBIDDEN');
  for (const path of ['/admin/queues/api/redis/stats', '/admin/queues/api/REDIS/stats/', '/admin/queues/api/redis/%73tats']) {
    const r = await api.call('GET', path, { token: null, headers: cookie });
    t.equal(r.status, 403, `viewer ${path}`);
    t.notMatch(r.text, /redis_version|used_memory/);
  }
  t.equal((await api.call('GET', '/admin/queues/api/redis/stats', { token: VIEWER })).status, 403, 'viewer token');
  const admin = await api.call('GET', '/admin/queues/api/redis/stats', { token: ADMIN });
  t.equal(admin.status, 200, 'admins see it');
});

t.test('sign out deletes the session and clears the cookie; sign-in from another origin is refused', async (t) => {
  const s = await signIn(api, ADMIN);
  const evilOut = await api.call('DELETE', '/api/session', { token: null, headers: { cookie: s.cookie, origin: EVIL } });
  t.equal(evilOut.json?.error?.code, 'CROSS_ORIGIN');
  t.equal((await api.call('GET', '/api/session', { token: null, headers: { cookie: s.cookie } })).status, 200, 'still signed in');
  const out = await api.call('DELETE', '/api/session', { token: null, headers: { cookie: s.cookie, origin: api.base } });
  t.equal(out.status, 204);
  t.match(out.headers.get('set-cookie') ?? '', /^qpc_session=; HttpOnly; SameSite=Strict; Path=\/; Max-Age=0/);
  const after = await api.call('GET', '/api/connectors', { token: null, headers: { cookie: s.cookie } });
  t.equal(after.status, 401, 'the old cookie is worthless');
  t.equal(after.json.error.code, 'UNAUTHORIZED');
  const evilIn = await signIn(api, ADMIN, { origin: EVIL });
  t.equal(evilIn.r.json?.error?.code, 'CROSS_ORIGIN');
  t.equal(evilIn.setCookie, '');
});

t.test('a session ends with its token: rotating or dropping a token signs its browsers out', async (t) => {
  const admin = await signIn(api, ADMIN);
  const viewer = await signIn(api, VIEWER);
  // the same Redis and sessions, configured with a new admin token and no viewer token any more
  const rotated = createServer({ ...api.deps, tokens: { admin: 'rotated-admin-token-0123456789', viewers: [] } });
  const { url } = await httpServer(t, rotated.app);
  const get = (cookie: string) => fetch(`${url}/api/connectors`, { headers: { cookie } }).then((r) => r.status);
  t.equal(await get(admin.cookie), 401, 'the old admin token no longer signs in, nor do its sessions');
  t.equal(await get(viewer.cookie), 401, 'a dropped viewer token');
  const kept = createServer({ ...api.deps, tokens: { admin: ADMIN, viewers: [] } });
  const k = await httpServer(t, kept.app);
  t.equal(await fetch(`${k.url}/api/connectors`, { headers: { cookie: admin.cookie } }).then((r) => r.status), 200, 'an unchanged token keeps its sessions');
  t.equal(await get(admin.cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))), 401, 'a tampered id');
});

t.test('no answer carries a token', async (t) => {
  t.ok(api.answers.length > 20, `${api.answers.length} answers`);
  t.notOk(api.answers.some((a) => a.includes(ADMIN) || a.includes(VIEWER)), 'no token in any answer');
});
