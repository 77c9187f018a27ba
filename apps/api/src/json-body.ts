/**
 * JSON routes take JSON only: a body of another type (text/plain, a form) is refused with 415 instead of
 * being read as `{}` (express.json() skips bodies it does not parse). A request without a body passes.
 */
import type { RequestHandler } from 'express';
import { ApiError } from './errors.ts';

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  const length = headers['content-length'];
  if (typeof length === 'string') return Number(length) > 0;
  return headers['transfer-encoding'] !== undefined;
}

export function requireJsonBody(): RequestHandler {
  return (req, _res, next) => {
    if (!hasBody(req.headers) || req.is('application/json')) {
      next();
      return;
    }
    const type = req.headers['content-type'] ? String(req.headers['content-type']).split(';')[0]!.trim().slice(0, 100) : 'none';
    next(new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `body: must be application/json (got ${JSON.stringify(type)})`));
  };
}
