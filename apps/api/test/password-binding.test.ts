/**
 * The stored password only ever goes to the URL and user it was saved for: Test Credentials or an edit
 * with another URL or user needs the password again, and the workers' credentials refuse a password
 * whose URL was changed behind the API. Real listeners record every Authorization header they get.
 */
import t from 'tap';
import type { IncomingHttpHeaders } from 'node:http';
import { createQualysClient } from '@qpc/qualys-client';
import { connectorCredentials } from '@qpc/store/connectors';
import { httpServer } from '@qpc/testing';
import { startApi } from './helpers.ts';
import { createClientProbe } from '../src/qualys-probe-client.ts';

const CANARY = 'Stored-Pa55word-91c4e2';

/** A Qualys stand-in that records what it is sent and answers 401 (a bad login). */
async function recorder() {
  const auth: string[] = [];
  const { url } = await httpServer(t, (req, res) => {
    const h: IncomingHttpHeaders = req.headers;
    if (h.authorization) auth.push(Buffer.from(h.authorization.replace(/^Basic /, ''), 'base64').toString('utf8'));
    res.writeHead(401, { 'content-type': 'text/plain' }).end('unauthorized');
  });
  return { url, auth };
}

const a = await recorder();
const b = await recorder();
const api = await startApi(t, { allowHttp: true, qualys: createClientProbe({ timeoutMs: 10_000 }) });

const created = await api.call('POST', '/api/connectors', {
  body: { name: 'bound', url: a.url, username: 'apiuser', password: CANARY, network: 'n', reportTitlePrefix: 'P' },
});
if (created.status !== 201) throw new Error(created.text);
const id = created.json.id as string;

t.test('Test Credentials: another URL or user without the password is refused; nothing is sent', async (t) => {
  const saved = await api.call('POST', `/api/connectors/${id}/test`, { body: {} });
  t.equal(saved.json.error?.code, 'QUALYS_BAD_CREDENTIALS', saved.text);
  t.same(a.auth, [`apiuser:${CANARY}`], 'the saved test goes to the saved URL');

  for (const body of [{ url: b.url }, { username: 'other' }, { url: b.url, username: 'other' }]) {
    const r = await api.call('POST', `/api/connectors/${id}/test`, { body });
    t.equal(r.status, 400, JSON.stringify(body));
    t.equal(r.json?.error?.code, 'PASSWORD_REQUIRED');
    t.match(r.json?.error?.message, /^password: required with a new (url|username)/);
  }
  t.same(b.auth, [], 'the other URL got no Authorization header');
  t.equal(a.auth.length, 1, 'and the saved URL nothing for another user');

  const typed = await api.call('POST', `/api/connectors/${id}/test`, { body: { url: b.url, password: 'typed-pw' } });
  t.equal(typed.status, 200, typed.text);
  t.same(b.auth, ['apiuser:typed-pw'], 'a typed password goes where it was typed for');
  const same = await api.call('POST', `/api/connectors/${id}/test`, { body: { url: `${a.url}/` } });
  t.equal(same.status, 200, 'the saved URL written again (trailing slash) needs no password');
});

t.test('edit: a new url or username needs the password; the new one is bound to them', async (t) => {
  for (const body of [{ url: b.url }, { username: 'other' }, { url: b.url, name: 'moved' }]) {
    const r = await api.call('PATCH', `/api/connectors/${id}`, { body });
    t.equal(r.status, 400, JSON.stringify(body));
    t.equal(r.json?.error?.code, 'PASSWORD_REQUIRED');
  }
  const unchanged = await api.deps.store.col.connectors.findOne({ _id: id });
  t.equal(unchanged!.url, a.url, 'nothing changed');
  t.equal(unchanged!.name, 'bound');
  t.equal((await api.call('PATCH', `/api/connectors/${id}`, { body: { name: 'renamed', url: a.url } })).status, 200, 'other edits need no password');

  const moved = await api.call('PATCH', `/api/connectors/${id}`, { body: { url: b.url, password: 'new-pw' } });
  t.equal(moved.status, 200, moved.text);
  const doc = await api.deps.store.col.connectors.findOne({ _id: id });
  t.same(doc!.passwordFor, { url: b.url, username: 'apiuser' });
  t.same(connectorCredentials(doc!, api.deps.secrets), { url: b.url, username: 'apiuser', password: 'new-pw' });
});

t.test('a sync never sends the password to a URL it was not saved for', async (t) => {
  // what a worker does: the connector's credentials, then a Qualys client on them
  const list = async () => {
    const doc = await api.deps.store.col.connectors.findOne({ _id: id });
    const client = createQualysClient({ ...connectorCredentials(doc!, api.deps.secrets), allowHttp: true, limits: { maxAttempts: 1 } });
    try {
      await client.listReports();
    } finally {
      await client.close();
    }
  };
  await t.rejects(list(), { code: 'QUALYS_BAD_CREDENTIALS' });
  t.same(b.auth.at(-1), 'apiuser:new-pw');
  const seenByA = a.auth.length;

  // the URL changed behind the API (a direct database edit): refused before any call
  await api.deps.store.col.connectors.updateOne({ _id: id }, { $set: { url: a.url } });
  await t.rejects(list(), { name: 'StoreError', code: 'PASSWORD_NOT_FOR_URL' });
  const test = await api.call('POST', `/api/connectors/${id}/test`, { body: {} });
  t.equal(test.status, 409);
  t.equal(test.json.error.code, 'PASSWORD_NOT_FOR_URL');
  // and passwordFor rewritten to match: the associated data no longer matches, nothing decrypts
  await api.deps.store.col.connectors.updateOne({ _id: id }, { $set: { passwordFor: { url: a.url, username: 'apiuser' } } });
  await t.rejects(list(), { code: 'SECRET_DECRYPT_FAILED' });
  t.equal(a.auth.length, seenByA, 'the first URL got nothing');
  t.notOk([...a.auth, ...b.auth].some((h) => h.includes('new-pw') && !b.auth.includes(h)), 'new-pw only ever went to its URL');
  t.notOk(b.auth.some((h) => h.includes(CANARY)), 'the first password never went to the second URL');
});

t.test('no password in any answer or log line', async (t) => {
  t.notMatch(api.answers.join('\n'), CANARY);
  t.notMatch(api.answers.join('\n'), 'new-pw');
  t.notMatch(api.logs.join(''), CANARY);
});
