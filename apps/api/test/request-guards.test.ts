/** Requests the routes refuse before any handler runs: bad percent-encoding in a path id, a body that is not JSON, counts not in digits. */
import t from 'tap';
import { ADMIN, startApi } from './helpers.ts';

const api = await startApi(t);

/** A request with its own content type (api.call always sends JSON). */
async function raw(method: string, path: string, type: string, body: string) {
  const res = await fetch(`${api.base}${path}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': type }, body });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) as { error?: { code: string; message: string }; name?: string } };
}

t.test('bad percent-encoding in a path id is a 400 BAD_PATH, not a logged 500', async (t) => {
  for (const path of ['/api/connectors/%zz', '/api/runs/%', '/api/findings/%ff%fe', '/api/hosts/a%e0%80']) {
    const r = await api.call('GET', path);
    t.equal(r.status, 400, path);
    t.equal(r.json?.error?.code, 'BAD_PATH', path);
    t.match(r.json?.error?.message, /percent-encoding/, path);
  }
  t.notMatch(api.logs.join(''), /URIError|request failed/, 'nothing logged as an internal error');
  // a well-formed escape still reaches the route
  t.equal((await api.call('GET', '/api/connectors/%41bc')).status, 404);
});

t.test('a body that is not JSON is a 415 on a JSON route, not read as {}', async (t) => {
  const valid = { name: 'x', url: 'https://qualys.example', username: 'u', password: 'p', network: 'n', reportTitlePrefix: 'P' };
  const created = await api.call('POST', '/api/connectors', { body: valid });
  t.equal(created.status, 201, created.text);
  const id = created.json.id as string;
  const cases: [string, string, string, string][] = [
    ['POST', `/api/connectors/${id}/sync`, 'text/plain', '{"reingest":true}'],
    ['PATCH', `/api/connectors/${id}`, 'text/plain', '{"name":"renamed"}'],
    ['POST', '/api/connectors', 'application/x-www-form-urlencoded', 'name=y'],
    ['POST', `/api/connectors/${id}/sync`, 'text/plain', 'anything'],
  ];
  for (const [method, path, type, body] of cases) {
    const r = await raw(method, path, type, body);
    t.equal(r.status, 415, `${method} ${path} ${type}`);
    t.equal(r.json?.error?.code, 'UNSUPPORTED_MEDIA_TYPE');
    t.match(r.json?.error?.message, type);
  }
  t.equal((await api.call('GET', `/api/connectors/${id}`)).json.name, 'x', 'the text/plain PATCH changed nothing');
  t.equal(await api.deps.queues.sync.count(), 0, 'the text/plain sync queued nothing');
  // JSON (with a charset) and an empty body still pass
  const patched = await raw('PATCH', `/api/connectors/${id}`, 'application/json; charset=utf-8', '{"name":"renamed"}');
  t.equal(patched.status, 200, patched.text);
  const sync = await fetch(`${api.base}/api/connectors/${id}/sync`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
  t.equal(sync.status, 202, 'a sync without a body');
  const doc = api.openapi as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
  t.ok(doc.paths['/api/connectors/{id}']?.patch?.responses['415'], '415 documented');
});

t.test('limit and size are digits only', async (t) => {
  for (const path of [
    '/api/connectors?limit=0x10',
    '/api/connectors?limit=1e2',
    '/api/connectors?limit=%205',
    '/api/connectors?limit=',
    '/api/connectors?limit=2.0',
    '/api/connectors?limit=0',
    '/api/connectors?limit=501',
    '/api/runs?limit=1e1',
    '/api/hosts?limit=0b11',
    '/api/findings?limit=-1',
    '/api/findings/facets?size=0x10',
  ]) {
    const r = await api.call('GET', path);
    t.equal(r.status, 400, path);
    t.equal(r.json?.error?.code, 'VALIDATION_FAILED', path);
    t.match(r.json?.error?.message, /^(limit|size): /, path);
  }
  const ok = await api.call('GET', '/api/connectors?limit=1');
  t.equal(ok.status, 200);
  t.equal(ok.json.items.length, 1);
  t.equal((await api.call('GET', '/api/connectors')).status, 200, 'no limit: the default');
  t.equal((await api.call('GET', '/api/findings/facets?size=500')).status, 200);
});

t.test('an unknown or operator-shaped query key is a 400 naming it, on every list route', async (t) => {
  const cases: [string, string][] = [
    ['/api/findings?testStatus[$ne]=x', 'testStatus[$ne]'],
    ['/api/findings?host[$regex]=.*', 'host[$regex]'],
    ['/api/findings/facets?severity[$gt]=', 'severity[$gt]'],
    ['/api/hosts?network[$ne]=x', 'network[$ne]'],
    ['/api/runs?state[$in]=failed', 'state[$in]'],
    ['/api/connectors?nameLower=x', 'nameLower'],
    ['/api/connectors/some-id/runs?foo=1', 'foo'],
    ['/api/connectors/some-id?x=1', 'x'],
  ];
  for (const [path, key] of cases) {
    const r = await api.call('GET', path);
    t.equal(r.status, 400, path);
    t.equal(r.json?.error?.code, 'VALIDATION_FAILED', path);
    t.match(r.json?.error?.message, key, path);
  }
  t.equal((await api.call('GET', '/api/findings?testStatus=Failed&limit=5')).status, 200, 'known keys pass');
  t.match((api.openapi as { info: { description: string } }).info.description, /query parameter a route does not list is a 400/, 'documented');
});
