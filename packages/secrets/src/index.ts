/**
 * Encryption of connector passwords at rest: AES-256-GCM, a random 96-bit IV per value, the key id
 * stored with each value (so keys can be rotated: old values stay readable while new ones use the
 * current key), and the connector id as associated data (a value copied onto another connector does
 * not decrypt); @qpc/store passes the connector id with the URL and user the password is for.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** What is stored in MongoDB in place of a password. */
export interface EncryptedValue {
  /** format version */
  v: 1;
  /** id of the key that encrypted this value */
  kid: string;
  /** base64 IV (12 bytes) */
  iv: string;
  /** base64 GCM tag (16 bytes) */
  tag: string;
  /** base64 ciphertext */
  ct: string;
}

export class SecretError extends Error {
  constructor(
    readonly code: 'SECRET_KEY_MISSING' | 'SECRET_KEY_INVALID' | 'SECRET_KEY_UNKNOWN' | 'SECRET_DECRYPT_FAILED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SecretError';
  }
}

export interface SecretBox {
  readonly currentKeyId: string;
  encrypt(plaintext: string, connectorId: string): EncryptedValue;
  decrypt(value: EncryptedValue, connectorId: string): string;
}

export interface SecretBoxOptions {
  keys: Record<string, Buffer>;
  currentKeyId: string;
}

const ALGO = 'aes-256-gcm';

export function createSecretBox(opts: SecretBoxOptions): SecretBox {
  const keys = new Map<string, Buffer>();
  for (const [kid, key] of Object.entries(opts.keys)) {
    if (!Buffer.isBuffer(key) || key.length !== 32) {
      throw new SecretError('SECRET_KEY_INVALID', `secret key "${kid}" must be exactly 32 bytes`);
    }
    keys.set(kid, Buffer.from(key));
  }
  const current = keys.get(opts.currentKeyId);
  if (!current) {
    throw new SecretError(
      'SECRET_KEY_MISSING',
      `no secret key for current key id "${opts.currentKeyId}": set QPC_SECRET_KEY (32 bytes, base64; openssl rand -base64 32)`,
    );
  }
  const currentKeyId = opts.currentKeyId;
  return {
    currentKeyId,
    encrypt(plaintext, connectorId) {
      const iv = randomBytes(12);
      const cipher = createCipheriv(ALGO, current, iv);
      cipher.setAAD(Buffer.from(connectorId, 'utf8'));
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return {
        v: 1,
        kid: currentKeyId,
        iv: iv.toString('base64'),
        tag: cipher.getAuthTag().toString('base64'),
        ct: ct.toString('base64'),
      };
    },
    decrypt(value, connectorId) {
      const key = keys.get(value.kid);
      if (!key) throw new SecretError('SECRET_KEY_UNKNOWN', `no secret key with id "${value.kid}" is configured`);
      try {
        const decipher = createDecipheriv(ALGO, key, Buffer.from(value.iv, 'base64'));
        decipher.setAAD(Buffer.from(connectorId, 'utf8'));
        decipher.setAuthTag(Buffer.from(value.tag, 'base64'));
        return Buffer.concat([decipher.update(Buffer.from(value.ct, 'base64')), decipher.final()]).toString('utf8');
      } catch (cause) {
        // never include the value or the key in the message
        throw new SecretError('SECRET_DECRYPT_FAILED', 'stored secret could not be decrypted (wrong key or connector)', { cause });
      }
    },
  };
}

/** The box from the validated config (QPC_SECRET_KEY base64, QPC_SECRET_KEY_ID); refuses to start without a key. */
export function secretBoxFromConfig(config: { QPC_SECRET_KEY?: string | undefined; QPC_SECRET_KEY_ID: string }): SecretBox {
  if (!config.QPC_SECRET_KEY) {
    throw new SecretError('SECRET_KEY_MISSING', 'QPC_SECRET_KEY is required (32 bytes, base64; openssl rand -base64 32)');
  }
  const key = Buffer.from(config.QPC_SECRET_KEY, 'base64');
  return createSecretBox({ keys: { [config.QPC_SECRET_KEY_ID]: key }, currentKeyId: config.QPC_SECRET_KEY_ID });
}

export function isEncryptedValue(v: unknown): v is EncryptedValue {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return o.v === 1 && typeof o.kid === 'string' && typeof o.iv === 'string' && typeof o.tag === 'string' && typeof o.ct === 'string';
}
