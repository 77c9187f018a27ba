/**
 * Connectors: create, list, get, edit, delete, Test Credentials. The password is encrypted with the
 * connector id, URL and user as associated data before it is stored and is never part of an answer
 * (views are built field by field from an allow-list, so a new secret field cannot leak by default).
 * A URL or user other than the stored one (an edit, a test) must come with the password again: the
 * stored password is only ever sent to the URL and user it was saved for.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { DEFAULT_POSTURE, normalizePosture, type ConnectorSource } from '@qpc/domain';
import { MongoServerError } from 'mongodb';
import { checkedAddresses, isQualysError } from '@qpc/qualys-client';
import { StoreError, type ConnectorDoc } from '@qpc/store/db';
import { connectorCredentials, encryptConnectorPassword } from '@qpc/store/connectors';
import { ApiError, badRequest, conflict, notFound } from '../errors.ts';
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
import { deleteConnector } from './connector-cleanup.ts';
import { connectorStatus } from './connector-status.ts';

const stripUndefined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

export function connectorView(d: ConnectorDoc) {
  return {
    id: d._id,
    name: d.name,
    url: d.url,
    username: d.username,
    hasPassword: d.password !== undefined && d.password !== null,
    network: d.network,
    reportTitlePrefix: d.reportTitlePrefix,
    source: d.source ?? 'policy-report',
    /** the posture settings (null: never set; a posture connector without them uses the defaults) */
    posture: d.posture ?? (d.source === 'posture' ? DEFAULT_POSTURE : null),
    schedule: d.schedule,
    autoUrba: d.autoUrba,
    urbaDryRun: d.urbaDryRun ?? false,
    urbaThreshold: d.urbaThreshold ?? null,
    /** the connector's own threshold, null: the default (DEFAULT_STALE_AFTER_DAYS) */
    staleAfterDays: d.staleAfterDays ?? null,
    /** a delete was started and has not finished: repeat the DELETE to finish it */
    deleting: Boolean(d.deleting),
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

/** The stored password goes only to the URL and user it was saved for: another one needs it typed again. */
function requirePasswordFor(doc: ConnectorDoc, target: { url: string; username: string }): void {
  const changed = [target.url !== doc.url ? 'url' : '', target.username !== doc.username ? 'username' : ''].filter(Boolean);
  if (changed.length === 0) return;
  throw badRequest(
    'PASSWORD_REQUIRED',
    `password: required with a new ${changed.join(' and ')} (the stored password is only ever sent to the URL and user it was saved for)`,
  );
}

function savedPassword(deps: ServerDeps, doc: ConnectorDoc): string {
  try {
    return connectorCredentials(doc, deps.secrets).password;
  } catch (err) {
    if (err instanceof StoreError && err.code === 'PASSWORD_NOT_FOR_URL') {
      throw new ApiError(409, 'PASSWORD_NOT_FOR_URL', 'password: the stored password was saved for another URL or user; save it again');
    }
    throw err;
  }
}

/**
 * Where plain http is refused (production), a Qualys host that is or resolves to a loopback, link-local,
 * metadata or (unless allowed) private address is refused before it is saved or dialled: 400 URL_REFUSED.
 */
async function checkQualysHost(deps: ServerDeps, url: string): Promise<void> {
  if (deps.allowHttp) return;
  let timer: NodeJS.Timeout | undefined;
  // a resolver that does not answer in 5 s leaves the check to the workers' client, which runs it at every connect
  const slow = new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)));
  try {
    await Promise.race([checkedAddresses(new URL(url).hostname, { restrict: true, allowPrivate: deps.allowPrivateQualys }), slow]);
  } catch (err) {
    if (isQualysError(err) && err.code === 'QUALYS_ADDRESS_REFUSED') throw badRequest('URL_REFUSED', `url: ${err.message}`);
    // a name that does not resolve here may resolve for the workers, which check again at every connect
  } finally {
    clearTimeout(timer);
  }
}

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
    responses: { 409: 'a connector with this name exists (case-insensitive)', 400: 'validation failed, or url: a refused address (URL_REFUSED)' },
    handle: async ({ body }) => {
      const now = new Date();
      const _id = randomUUID();
      const { password, urbaDryRun, urbaThreshold, staleAfterDays, posture, reportTitlePrefix, ...rest } = body;
      await checkQualysHost(deps, rest.url);
      const doc: ConnectorDoc = {
        _id,
        ...rest,
        reportTitlePrefix: reportTitlePrefix ?? '',
        ...(posture !== undefined || rest.source === 'posture' ? { posture: normalizePosture(posture) } : {}),
        nameLower: rest.name.toLowerCase(),
        ...encryptConnectorPassword(deps.secrets, _id, { url: rest.url, username: rest.username }, password),
        ...(urbaDryRun !== undefined ? { urbaDryRun } : {}),
        ...(urbaThreshold !== undefined ? { urbaThreshold } : {}),
        ...(staleAfterDays !== undefined ? { staleAfterDays } : {}),
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
    summary: 'List connectors by name, each with its next runs, schedule in words, last run and data freshness (dataAsOf, dataAge in seconds, stale, staleReason)',
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
    summary: 'Edit a connector; without a password the stored one is kept (a new url or username needs the password: 400 PASSWORD_REQUIRED)',
    role: 'admin',
    params: idParams,
    body: updateSchema,
    responses: { 404: 'no such connector', 409: 'a connector with this name exists, or its URL changed meanwhile (EDIT_CONFLICT)' },
    handle: async ({ params, body }) => {
      const current = await findConnector(deps, params.id);
      const { password, urbaThreshold, staleAfterDays, posture, ...rest } = body;
      const source = rest.source ?? current.source ?? 'policy-report';
      if (source === 'policy-report' && !(rest.reportTitlePrefix ?? current.reportTitlePrefix))
        throw badRequest('VALIDATION_FAILED', 'reportTitlePrefix: is required when the source is policy-report');
      const binding = { url: rest.url ?? current.url, username: rest.username ?? current.username };
      if (password === undefined) requirePasswordFor(current, binding);
      if (rest.url !== undefined) await checkQualysHost(deps, rest.url);
      if (rest.name !== undefined) {
        const clash = await connectors.findOne({ nameLower: rest.name.toLowerCase(), _id: { $ne: params.id } }, { projection: { _id: 1 } });
        if (clash) throw duplicateName(rest.name);
      }
      const set: Partial<ConnectorDoc> = { updatedAt: new Date() };
      const unset: Record<string, ''> = {};
      for (const [k, v] of Object.entries(rest)) if (v !== undefined) (set as Record<string, unknown>)[k] = v;
      if (rest.name !== undefined) set.nameLower = rest.name.toLowerCase();
      // posture fields given replace the stored ones (validated by the schema, merged here)
      if (posture !== undefined || (rest.source === 'posture' && !current.posture)) set.posture = normalizePosture({ ...(current.posture ?? {}), ...stripUndefined(posture ?? {}) });
      if (password !== undefined) Object.assign(set, encryptConnectorPassword(deps.secrets, params.id, binding, password));
      if (urbaThreshold === null) unset.urbaThreshold = '';
      else if (urbaThreshold !== undefined) set.urbaThreshold = urbaThreshold;
      if (staleAfterDays === null) unset.staleAfterDays = '';
      else if (staleAfterDays !== undefined) set.staleAfterDays = staleAfterDays;
      try {
        // without a password, only over the URL and user the stored one is for (a concurrent edit may change them)
        const r = await connectors.findOneAndUpdate(
          password === undefined ? { _id: params.id, url: current.url, username: current.username } : { _id: params.id },
          { $set: set, ...(Object.keys(unset).length ? { $unset: unset } : {}) },
          { returnDocument: 'after' },
        );
        if (!r) {
          if (password === undefined && (await connectors.countDocuments({ _id: params.id })) > 0) {
            throw conflict('EDIT_CONFLICT', 'url: the connector\'s URL or user changed meanwhile; read it and try again');
          }
          throw notFound('connector', params.id);
        }
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
    summary:
      'Delete a connector and its schedule; its data stays unless purge=true. Refused (409 SYNC_RUNNING) while a sync runs; a delete that failed half-way is finished by repeating it',
    role: 'admin',
    params: idParams,
    query: z.object({ purge: z.enum(['true', 'false', '1', '0']).optional().transform((v) => v === 'true' || v === '1') }),
    responses: { 404: 'no such connector', 409: 'a sync of this connector is running' },
    handle: async ({ params, query }) => deleteConnector(deps, await findConnector(deps, params.id), { purge: query.purge }),
  });

  const probe = async (input: { url: string; username: string; password: string; reportTitlePrefix: string; source?: ConnectorSource; policyIds?: string[] | null }) =>
    deps.qualys({ ...input, allowHttp: deps.allowHttp, allowPrivate: deps.allowPrivateQualys });

  table.add({
    method: 'post',
    path: '/api/connectors/:id/test',
    tag: 'connectors',
    summary: 'Test Credentials with the saved credentials, or with the fields given in the body (another url or username needs the password: 400 PASSWORD_REQUIRED)',
    role: 'admin',
    params: idParams,
    body: testSchema,
    responses: { 404: 'no such connector', 409: 'the stored password was saved for another URL or user (PASSWORD_NOT_FOR_URL)' },
    handle: async ({ params, body }) => {
      const doc = await findConnector(deps, params.id);
      const url = body.url ?? doc.url;
      const username = body.username ?? doc.username;
      if (body.password === undefined) requirePasswordFor(doc, { url, username });
      if (body.url !== undefined) await checkQualysHost(deps, body.url);
      return probe({
        url,
        username,
        password: body.password ?? savedPassword(deps, doc),
        reportTitlePrefix: body.reportTitlePrefix ?? doc.reportTitlePrefix,
        source: body.source ?? doc.source ?? 'policy-report',
        policyIds: body.policyIds !== undefined ? body.policyIds : (doc.posture?.policyIds ?? null),
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
      source: testSchema.shape.source,
      policyIds: testSchema.shape.policyIds,
    }),
    handle: async ({ body }) => {
      await checkQualysHost(deps, body.url);
      return probe({ ...body, reportTitlePrefix: body.reportTitlePrefix ?? '' });
    },
  });
}

