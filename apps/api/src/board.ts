/**
 * Bull Board at /admin/queues, with every queue of the catalogue. Two board instances over the same
 * queues: the admin board (retry, clean, ...) and a read-only one for viewers. Viewers are also held to
 * GET/HEAD by viewerReadOnly() in front of it, so a crafted request cannot reach a mutating handler even
 * if a board option changes. Job data holds ids only (the catalogue's rule); the formatter below still
 * masks any key that looks like a secret, in case a future payload slips one in.
 */
import express, { type Router } from 'express';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';

export const BOARD_PATH = '/admin/queues';

const SECRET_KEY = /pass|secret|token|authorization|credential/i;

export function maskSecrets(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : maskSecrets(v, depth + 1);
  return out;
}

function board(queues: readonly Queue[], readOnly: boolean): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  const adapters = queues.map((q) => {
    const a = new BullMQAdapter(q, { readOnlyMode: readOnly, allowRetries: !readOnly });
    a.setFormatter('data', (d: unknown) => maskSecrets(d));
    return a;
  });
  createBullBoard({
    queues: adapters,
    serverAdapter,
    options: { uiConfig: { boardTitle: readOnly ? 'QPC jobs (read only)' : 'QPC jobs' } },
  });
  return serverAdapter.getRouter() as Router;
}

/** A router that serves the admin board to admins and the read-only board to viewers. */
export function boardRouter(queues: readonly Queue[]): Router {
  const admin = board(queues, false);
  const viewer = board(queues, true);
  const router = express.Router();
  router.use((req, res, next) => {
    (req.role === 'admin' ? admin : viewer)(req, res, next);
  });
  return router;
}
