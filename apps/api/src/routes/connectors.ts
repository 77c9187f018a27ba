/**
 * Connectors: create, list, get, edit, delete, Test Credentials. The password is encrypted with the
 * connector id as associated data before it is stored and is never part of an answer (views are built
 * field by field from an allow-list, so a new secret field cannot leak by default).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { MongoServerError } from 'mongodb';
import type { ConnectorDoc } from '@qpc/store';
import { conflict, notFound } from '../errors.ts';
import { pageOf, type SortKey } from '../paging.ts';
import type { ServerDeps } from '../server.ts';
import {
  createConnectorSchema,
  idParams,
  testCredentialsSchema,
  updateConnectorSchema,
} from './connector-schemas.ts';
import type { RouteTable } from './registry.ts';
import { pageQuery } from './common.ts';
import { purgeConnectorData, removeSchedule } from './connector-cleanup.ts';
import { connectorStatus } from './connector-status.ts';

export function connectorView(d: ConnectorDoc) {
  return {
    id: d._id,
    name: d.name,
    url: d.url,
    username: d.username,
    hasPassword: d.password !== undefined && d.password !== null,
    network: d.network,
    reportTitlePrefix: d.reportTitlePrefix,
    schedule: d.schedule,
    autoUrba: d.autoUrba,
    urbaDryRun: d.urbaDryRun ?? false,
    urbaThreshold: d.urbaThreshold ?? null,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

/**
 * MongoDB answers a unique-index violation with code 11000. FerretDB 1.24 does so on insert, but on
 * update it answers InternalError (code 1) naming the SQLite constraint; the name is also checked
 * before an update, so this only matters in a race between two renames.
 */
const isDuplicateKey = (err: unknown) =>
  err instanceof MongoServerError && (err.code === 11000 || (err.code === 1 && /UNIQUE constraint failed/.test(err.message)));
const duplicateName = (name: string) => conflict('DUPLICATE_NAME', `name: a connector named ${JSON.stringify(name)} already exists`);

const LIST_KEY: SortKey = { field: 'nameLower', dir: 1 };

export async function findConnector(deps: ServerDeps, id: string): Promise<ConnectorDoc> {
  const doc = await deps.store.col.connectors.findOne({ _id: id });
  if (!doc) throw notFound('connector', id);
  return doc;
}

export function connectorRoutes(table: RouteTable, deps: ServerDeps) {
  const { connectors } = deps.store.col;
  const createSchema = createConnectorSchema(deps.allowHttp);
  const updateSchema = updateConnectorSchema(deps.allowHttp);
  const testSchema = testCredentialsSchema(deps.allowHttp);
  const withStatus = async (d: ConnectorDoc) => ({ ...connectorView(d), ...(await connectorStatus(deps, d)) });

  table.add({
    method: 'post',
    path: '/api/connectors',
    tag: 'connectors',
    summary: 'Create a connector (the password is write-only)',
    role: 'admin',
    body: createSchema,
    status: 201,
    responses: { 409: 'a connector with this name exists (case-insensitive)' },
    handle: async ({ body }) => {
      const now = new Date();
      const _id = randomUUID();
      const { password, urbaDryRun, urbaThreshold, ...rest } = body;
      const doc: ConnectorDoc = {
        _id,
        ...rest,
        nameLower: rest.name.toLowerCase(),
        password: deps.secrets.encrypt(password, _id),
        ...(urbaDryRun !== undefined ? { urbaDryRun } : {}),
        ...(urbaThreshold !== undefined ? { urbaThreshold } : {}),
        createdAt: now,
        updatedAt: now,
      };
      try {
        await connectors.insertOne(doc);
      } catch (err) {
        if (isDuplicateKey(err)) throw duplicateName(rest.name);
        throw err;
      }
      await deps.store.col.networks.updateOne(
        { _id: doc.network },
        { $setOnInsert: { name: doc.network, createdAt: now } },
        { upsert: true },
      );
      return withStatus(doc);
    },
  });

  table.add({
    method: 'get',
    path: '/api/connectors',
    tag: 'connectors',
    summary: 'List connectors by name, each with its next runs, schedule in words, last run and data age',
    role: 'viewer',
    query: pageQuery,
    handle: async ({ query }) => {
      const page = await pageOf(connectors, LIST_KEY, query, (d) => d);
      return { items: await Promise.all(page.items.map((d) => withStatus(d))), next: page.next };
    },
  });

  table.add({
    method: 'get',
    path: '/api/connectors/:id',
    tag: 'connectors',
    summary: 'One connector (never its password)',
    role: 'viewer',
    params: idParams,
    responses: { 404: 'no such connector' },
    handle: async ({ params }) => withStatus(await findConnector(deps, params.id)),
  });

  table.add({
    method: 'patch',
    path: '/api/connectors/:id',
    tag: 'connectors',
    summary: 'Edit a connector; without a password the stored one is kept',
    role: 'admin',
    params: idParams,
    body: updateSchema,
    responses: { 404: 'no such connector', 409: 'a connector with this name exists' },
    handle: async ({ params, body }) => {
      await findConnector(deps, params.id);
      const { password, urbaThreshold, ...rest } = body;
      if (rest.name !== undefined) {
        const clash = await connectors.findOne({ nameLower: rest.name.toLowerCase(), _id: { $ne: params.id } }, { projection: { _id: 1 } });
        if (clash) throw duplicateName(rest.name);
      }
      const set: Partial<ConnectorDoc> = { updatedAt: new Date() };
      const unset: Record<string, ''> = {};
      for (const [k, v] of Object.entries(rest)) if (v !== undefined) (set as Record<string, unknown>)[k] = v;
      if (rest.name !== undefined) set.nameLower = rest.name.toLowerCase();
      if (password !== undefined) set.password = deps.secrets.encrypt(password, params.id);
      if (urbaThreshold === null) unset.urbaThreshold = '';
      else if (urbaThreshold !== undefined) set.urbaThreshold = urbaThreshold;
      try {
        const r = await connectors.findOneAndUpdate(
          { _id: params.id },
          { $set: set, ...(Object.keys(unset).length ? { $unset: unset } : {}) },
          { returnDocument: 'after' },
        );
        if (!r) throw notFound('connector', params.id);
        if (rest.network !== undefined) {
          await deps.store.col.networks.updateOne(
            { _id: rest.network },
            { $setOnInsert: { name: rest.network, createdAt: new Date() } },
            { upsert: true },
          );
        }
        return withStatus(r);
      } catch (err) {
        if (isDuplicateKey(err)) throw duplicateName(rest.name ?? '');
        throw err;
      }
    },
  });

  table.add({
    method: 'delete',
    path: '/api/connectors/:id',
    tag: 'connectors',
    summary: 'Delete a connector and its schedule; its data stays unless purge=true',
    role: 'admin',
    params: idParams,
    query: z.object({ purge: z.enum(['true', 'false', '1', '0']).optional().transform((v) => v === 'true' || v === '1') }),
    responses: { 404: 'no such connector' },
    handle: async ({ params, query }) => {
      const doc = await findConnector(deps, params.id);
      await connectors.deleteOne({ _id: params.id });
      const scheduleRemoved = await removeSchedule(deps, params.id);
      const purged = query.purge ? await purgeConnectorData(deps, doc) : null;
      return { id: params.id, deleted: true, scheduleRemoved, purged };
    },
  });

  const probe = async (input: { url: string; username: string; password: string; reportTitlePrefix: string }) =>
    deps.qualys({ ...input, allowHttp: deps.allowHttp });

  table.add({
    method: 'post',
    path: '/api/connectors/:id/test',
    tag: 'connectors',
    summary: 'Test Credentials with the saved credentials, or with the fields given in the body',
    role: 'admin',
    params: idParams,
    body: testSchema,
    responses: { 404: 'no such connector' },
    handle: async ({ params, body }) => {
      const doc = await findConnector(deps, params.id);
      const password = body.password ?? deps.secrets.decrypt(doc.password, doc._id);
      return probe({
        url: body.url ?? doc.url,
        username: body.username ?? doc.username,
        password,
        reportTitlePrefix: body.reportTitlePrefix ?? doc.reportTitlePrefix,
      });
    },
  });

  table.add({
    method: 'post',
    path: '/api/connectors/test',
    tag: 'connectors',
    summary: 'Test Credentials before saving a connector',
    role: 'admin',
    body: z.strictObject({
      url: createSchema.shape.url,
      username: createSchema.shape.username,
      password: createSchema.shape.password,
      reportTitlePrefix: createSchema.shape.reportTitlePrefix,
    }),
    handle: async ({ body }) => probe(body),
  });
}

