/**
 * Connectors: create (used by the demo and tests; the REST API has its own validation), read, and the
 * one place the stored password is decrypted for a Qualys client.
 */
import { randomUUID } from 'node:crypto';
import { normalizePosture, type ConnectorSource, type PostureSettings } from '@qpc/domain';
import type { SecretBox } from '@qpc/secrets';
import type { Store } from '../db/store.ts';
import type { ConnectorDoc, ConnectorSchedule } from '../db/documents.ts';
import { StoreError } from '../db/errors.ts';

export interface NewConnector {
  name: string;
  url: string;
  username: string;
  password: string;
  network: string;
  reportTitlePrefix: string;
  source?: ConnectorSource;
  posture?: Partial<PostureSettings> | null;
  schedule?: ConnectorSchedule | null;
  autoUrba?: boolean;
  urbaDryRun?: boolean;
  urbaThreshold?: number;
  staleAfterDays?: number;
}

export async function createConnector(store: Store, box: SecretBox, input: NewConnector, now = new Date()): Promise<ConnectorDoc> {
  const _id = randomUUID();
  const doc: ConnectorDoc = {
    _id,
    name: input.name.trim(),
    nameLower: input.name.trim().toLowerCase(),
    url: input.url,
    username: input.username,
    ...encryptConnectorPassword(box, _id, { url: input.url, username: input.username }, input.password),
    network: input.network,
    reportTitlePrefix: input.reportTitlePrefix.trim(),
    ...(input.source ? { source: input.source } : {}),
    ...(input.source === 'posture' ? { posture: normalizePosture(input.posture) } : {}),
    schedule: input.schedule ?? null,
    autoUrba: input.autoUrba ?? false,
    ...(input.urbaDryRun !== undefined ? { urbaDryRun: input.urbaDryRun } : {}),
    ...(input.urbaThreshold !== undefined ? { urbaThreshold: input.urbaThreshold } : {}),
    ...(input.staleAfterDays !== undefined ? { staleAfterDays: input.staleAfterDays } : {}),
    createdAt: now,
    updatedAt: now,
  };
  try {
    await store.col.connectors.insertOne(doc);
  } catch (err) {
    if ((err as { code?: number }).code === 11000) throw new StoreError('CONNECTOR_NAME_TAKEN', `a connector named "${doc.name}" exists`, false, { cause: err });
    throw err;
  }
  await ensureNetwork(store, doc.network, now);
  return doc;
}

export async function ensureNetwork(store: Store, name: string, now = new Date()): Promise<void> {
  await store.col.networks.updateOne({ _id: name }, { $setOnInsert: { _id: name, name, createdAt: now } }, { upsert: true }).catch((err: unknown) => {
    if ((err as { code?: number }).code !== 11000) throw err;
  });
}

export async function getConnector(store: Store, id: string): Promise<ConnectorDoc> {
  const c = await store.col.connectors.findOne({ _id: id });
  if (!c) throw new StoreError('CONNECTOR_NOT_FOUND', `connector ${id} not found`, false);
  return c;
}

export interface PasswordBinding {
  url: string;
  username: string;
}

/** The associated data of a connector's password: its id, and the URL and user it is for. */
const passwordAad = (id: string, b: PasswordBinding) => JSON.stringify(['connector-password', id, b.url, b.username]);

/** The stored fields of a password typed for `binding`: a copy moved to another URL or user does not decrypt. */
export function encryptConnectorPassword(
  box: SecretBox,
  connectorId: string,
  binding: PasswordBinding,
  password: string,
): Pick<ConnectorDoc, 'password' | 'passwordFor'> {
  const passwordFor = { url: binding.url, username: binding.username };
  return { password: box.encrypt(password, passwordAad(connectorId, passwordFor)), passwordFor };
}

/**
 * The Qualys credentials of a connector, for a client; never log or store the result. A password saved
 * for another URL or user than the connector's (an edit that bypassed the API) is refused: it never
 * leaves for a host it was not typed for. Passwords saved before binding decrypt with the id alone.
 */
export function connectorCredentials(c: ConnectorDoc, box: SecretBox): { url: string; username: string; password: string } {
  if (!c.passwordFor) return { url: c.url, username: c.username, password: box.decrypt(c.password, c._id) };
  if (c.passwordFor.url !== c.url || c.passwordFor.username !== c.username) {
    throw new StoreError(
      'PASSWORD_NOT_FOR_URL',
      `connector ${c._id}: the stored password was saved for another Qualys URL or user; save the password again`,
      false,
    );
  }
  // the connector's own URL and user, not passwordFor's: a passwordFor rewritten to match does not decrypt
  return { url: c.url, username: c.username, password: box.decrypt(c.password, passwordAad(c._id, { url: c.url, username: c.username })) };
}
