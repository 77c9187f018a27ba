import t from 'tap';
import { loadConfig, ConfigError } from '../src/index.ts';

t.test('defaults', async (t) => {
  const c = loadConfig({});
  t.equal(c.REDIS_URL, 'redis://127.0.0.1:6379');
  t.equal(c.QPC_API_PORT, 8080);
  t.equal(c.QPC_ALLOW_HTTP, false);
  t.equal(c.QPC_ALLOW_PRIVATE_QUALYS, false);
  t.ok(Object.isFrozen(c));
});

t.test('parses and coerces', async (t) => {
  const key = Buffer.alloc(32, 7).toString('base64');
  const c = loadConfig({ QPC_API_PORT: '9090', QPC_ALLOW_HTTP: '1', QPC_ALLOW_PRIVATE_QUALYS: '1', QPC_SECRET_KEY: key, QPC_VIEWER_TOKENS: 'a, b,,' });
  t.equal(c.QPC_API_PORT, 9090);
  t.equal(c.QPC_ALLOW_HTTP, true);
  t.equal(c.QPC_ALLOW_PRIVATE_QUALYS, true);
  t.same(c.QPC_VIEWER_TOKENS, ['a', 'b']);
});

t.test('one error names every bad key and never echoes values', async (t) => {
  const secret = 'not-a-32-byte-key-SECRET';
  const err = t.throws(() =>
    loadConfig(
      { REDIS_URL: 'http://x', QPC_API_PORT: 'abc', QPC_SECRET_KEY: secret, QPC_QUEUE_PREFIX: 'a b' },
      { require: ['QPC_API_TOKEN'] },
    ),
  ) as unknown as ConfigError;
  t.type(err, ConfigError);
  const keys = err.issues.map((i) => i.key).sort();
  t.same(keys, ['QPC_API_PORT', 'QPC_API_TOKEN', 'QPC_QUEUE_PREFIX', 'QPC_SECRET_KEY', 'REDIS_URL']);
  t.notMatch(err.message, secret);
});

t.test('empty strings count as unset', async (t) => {
  t.equal(loadConfig({ QPC_API_PORT: '' }).QPC_API_PORT, 8080);
});

t.test('QPC_REPORT_RETENTION: files kept per connector, default 3, 0 keeps none, bad values named', async (t) => {
  t.equal(loadConfig({}).QPC_REPORT_RETENTION, 3);
  t.equal(loadConfig({ QPC_REPORT_RETENTION: '0' }).QPC_REPORT_RETENTION, 0);
  t.equal(loadConfig({ QPC_REPORT_RETENTION: '12' }).QPC_REPORT_RETENTION, 12);
  for (const bad of ['-1', '1.5', 'three']) {
    const err = t.throws(() => loadConfig({ QPC_REPORT_RETENTION: bad })) as unknown as ConfigError;
    t.same(err.issues.map((i) => i.key), ['QPC_REPORT_RETENTION'], bad);
  }
});
