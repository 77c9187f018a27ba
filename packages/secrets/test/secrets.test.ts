import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createSecretBox, secretBoxFromConfig, SecretError, isEncryptedValue } from '../src/index.ts';

const k1 = randomBytes(32);
const k2 = randomBytes(32);

t.test('round trip, random IV, key id stored', async (t) => {
  const box = createSecretBox({ keys: { k1 }, currentKeyId: 'k1' });
  const a = box.encrypt('s3cret-pässword', 'conn-1');
  const b = box.encrypt('s3cret-pässword', 'conn-1');
  t.equal(a.kid, 'k1');
  t.not(a.iv, b.iv, 'a fresh IV per value');
  t.not(a.ct, b.ct);
  t.ok(isEncryptedValue(a));
  t.notMatch(JSON.stringify(a), /s3cret/);
  t.equal(box.decrypt(a, 'conn-1'), 's3cret-pässword');
});

t.test('connector id is associated data', async (t) => {
  const box = createSecretBox({ keys: { k1 }, currentKeyId: 'k1' });
  const a = box.encrypt('pw', 'conn-1');
  t.throws(() => box.decrypt(a, 'conn-2'), { code: 'SECRET_DECRYPT_FAILED' });
});

t.test('tampering is detected', async (t) => {
  const box = createSecretBox({ keys: { k1 }, currentKeyId: 'k1' });
  const a = box.encrypt('password', 'c');
  const ct = Buffer.from(a.ct, 'base64');
  ct[0] = (ct[0] ?? 0) ^ 1;
  t.throws(() => box.decrypt({ ...a, ct: ct.toString('base64') }, 'c'), SecretError);
});

t.test('key rotation: old values stay readable, new ones use the current key', async (t) => {
  const old = createSecretBox({ keys: { k1 }, currentKeyId: 'k1' });
  const v1 = old.encrypt('pw1', 'c');
  const box = createSecretBox({ keys: { k1, k2 }, currentKeyId: 'k2' });
  t.equal(box.decrypt(v1, 'c'), 'pw1');
  t.equal(box.encrypt('pw2', 'c').kid, 'k2');
  const only2 = createSecretBox({ keys: { k2 }, currentKeyId: 'k2' });
  t.throws(() => only2.decrypt(v1, 'c'), { code: 'SECRET_KEY_UNKNOWN' });
});

t.test('refuses to start without a 32-byte key', async (t) => {
  t.throws(() => createSecretBox({ keys: {}, currentKeyId: 'k1' }), { code: 'SECRET_KEY_MISSING' });
  t.throws(() => createSecretBox({ keys: { k1: randomBytes(16) }, currentKeyId: 'k1' }), { code: 'SECRET_KEY_INVALID' });
  t.throws(() => secretBoxFromConfig({ QPC_SECRET_KEY_ID: 'k1' }), { code: 'SECRET_KEY_MISSING' });
  const box = secretBoxFromConfig({ QPC_SECRET_KEY: k1.toString('base64'), QPC_SECRET_KEY_ID: 'main' });
  t.equal(box.currentKeyId, 'main');
});
