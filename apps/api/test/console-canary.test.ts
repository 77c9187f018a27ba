/**
 * A canary password and the sign-in tokens appear in no answer of the console's routes (with a session
 * cookie, as the console calls them) and in no log line; and the session id is never logged either.
 */
import t from 'tap';
import type { RunDoc } from '@qpc/store/db';
import { ADMIN, VIEWER, startApi } from './helpers.ts';

const CANARY = 'Canary-Console-9e41b7-Pw';
const api = await startApi(t);

const signIn = await api.call('POST', '/api/session', { token: null, body: { token: ADMIN } });
const sessionId = /^qpc_session=([^;]+)/.exec(signIn.headers.get('set-cookie') ?? '')?.[1] ?? '';
const headers = { cookie: `qpc_session=${sessionId}`, origin: api.base };
const as = (method: string, path: string, body?: unknown) => api.call(method, path, { token: null, headers, ...(body === undefined ? {} : { body }) });

const created = await as('POST', '/api/connectors', {
  name: 'canary', url: 'https://qualys.example', username: 'u', password: CANARY, network: 'n1', reportTitlePrefix: 'PC',
  schedule: { kind: 'daily', time: '02:00', timezone: 'UTC' }, autoUrba: true,
});
const id = created.json.id as string;
await api.deps.store.col.runs.insertOne({
  _id: 'run-canary', connectorId: id, syncId: 's', reportId: '1', state: 'failed', network: 'n1', index: 0, resumes: 0,
  createdAt: new Date(), endedAt: new Date(), counts: { batches: 0 }, progress: { bytesDownloaded: 0, bytesParsed: 0, batchesWritten: 0 },
  error: { class: 'QUALYS_BAD_CREDENTIALS', message: 'bad login', stage: 'fetch', at: new Date() },
} as unknown as RunDoc);

t.test('every console route, as the console calls it', async (t) => {
  t.ok(sessionId.length > 20, 'signed in');
  t.equal(created.status, 201);
  const calls: [string, string, unknown?][] = [
    ['GET', '/api/session'],
    ['GET', '/api/connectors'],
    ['GET', `/api/connectors/${id}`],
    ['PATCH', `/api/connectors/${id}`, { name: 'canary 2' }],
    ['POST', '/api/schedules/preview', { schedule: { kind: 'cron', cron: '0 25 * * *', timezone: 'UTC' } }],
    ['POST', '/api/schedules/preview', { schedule: { kind: 'weekly', day: 'fri', time: '23:59', timezone: 'Europe/Paris' } }],
    ['GET', '/api/runs/run-canary'],
    ['POST', '/api/runs/run-canary/retry'],
    ['GET', '/api/findings/export.csv'],
    ['GET', '/api/overview'],
    ['GET', `/api/connectors/${id}/runs/chart`],
    ['GET', `/api/connectors/${id}/urba/preview`],
    ['GET', '/'],
    ['GET', '/admin/queues/api/queues'],
    ['DELETE', '/api/session'],
  ];
  for (const [method, path, body] of calls) {
    const r = await as(method, path, body);
    t.ok(r.status < 500, `${method} ${path}: ${r.status}`);
  }
  t.equal(api.answers.length, calls.length + 2);
  const leaked = (s: string) => s.includes(CANARY) || s.includes(ADMIN) || s.includes(VIEWER);
  t.notOk(api.answers.some(leaked), 'no password or token in any answer');
  t.ok(api.logs.length > calls.length, `${api.logs.length} log lines`);
  t.notOk(api.logs.some((l) => leaked(l) || l.includes(sessionId)), 'no password, token or session id in any log line');
});
