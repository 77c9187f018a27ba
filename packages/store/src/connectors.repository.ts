/**
 * Connectors: create (used by the demo and tests; the REST API has its own validation), read, and the
 * one place the stored password is decrypted for a Qualys client.
 */
import { randomUUID } from 'node:crypto';
import type { SecretBox } from '@qpc/secrets';
import type { Store } from './store.ts';
import type { ConnectorDoc, ConnectorSchedule } from './documents.ts';
import { StoreError } from './errors.ts';

export interface NewConnector {
  name: string;
  url: string;
  username: string;
  password: string;
  network: string;
  reportTitlePrefix: string;
  schedule?: ConnectorSchedule | null;
  autoUrba?: boolean;
  urbaDryRun?: boolean;
  urbaThreshold?: number;
}

export async function createConnector(store: Store, box: SecretBox, input: NewConnector, now = new Date()): Promise<ConnectorDoc> {
  const _id = randomUUID();
  const doc: ConnectorDoc = {
    _id,
    name: input.name.trim(),
    nameLower: input.name.trim().toLowerCase(),
    url: input.url,
    username: input.username,
    password: box.encrypt(input.password, _id),
    network: input.network,
    reportTitlePrefix: input.reportTitlePrefix.trim(),
    schedule: input.schedule ?? null,
    autoUrba: input.autoUrba ?? false,
    ...(input.urbaDryRun !== undefined ? { urbaDryRun: input.urbaDryRun } : {}),
    ...(input.urbaThreshold !== undefined ? { urbaThreshold: input.urbaThreshold } : {}),
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

/** The Qualys credentials of a connector, for a client; never log or store the result. */
export function connectorCredentials(c: ConnectorDoc, box: SecretBox): { url: string; username: string; password: string } {
  return { url: c.url, username: c.username, password: box.decrypt(c.password, c._id) };
}
