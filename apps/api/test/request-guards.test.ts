/** Requests the routes refuse before any handler runs: bad percent-encoding in a path id. */
import t from 'tap';
import { startApi } from './helpers.ts';

const api = await startApi(t);

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
