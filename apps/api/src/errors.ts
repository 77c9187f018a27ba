/**
 * Every error leaves the API as `{ "error": { "code", "message" } }` with a stable code; callers branch
 * on the code, never on the message. Messages never carry a secret: unknown errors answer a generic
 * message and are logged by class and message only.
 */
import type { ErrorRequestHandler } from 'express';
import type { z } from 'zod';
import type { Logger } from '@qpc/worker-kit';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ApiError';
  }
}

export const badRequest = (code: string, message: string) => new ApiError(400, code, message);
export const notFound = (what: string, id: string) => new ApiError(404, 'NOT_FOUND', `${what} ${JSON.stringify(id)} not found`);
export const conflict = (code: string, message: string) => new ApiError(409, code, message);

/** A validation error that names each bad field: `name: too small; url: must be https`. */
export function validationError(where: 'body' | 'query' | 'params', error: z.ZodError): ApiError {
  const parts = error.issues.map((i) => {
    const at = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys') {
      const what = where === 'query' ? 'parameter' : 'field';
      return i.keys.map((k) => `${at ? `${at}.` : ''}${k}: not a ${what} of this route`).join('; ');
    }
    const field = at || where;
    return `${field}: ${i.message}`;
  });
  const err = new ApiError(400, 'VALIDATION_FAILED', parts.join('; '));
  return err;
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

function isBodyParserError(err: unknown): err is { type: string; status: number } {
  return typeof err === 'object' && err !== null && 'type' in err && 'status' in err;
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (err instanceof ApiError) {
      res.status(err.status).json(errorBody(err.code, err.message));
      return;
    }
    if (err instanceof URIError) {
      // the router could not decode a path parameter (%zz, a lone %, bytes that are not UTF-8); the value is not echoed
      res.status(400).json(errorBody('BAD_PATH', 'path: not valid percent-encoding (each % must start a UTF-8 escape such as %20)'));
      return;
    }
    if (isBodyParserError(err)) {
      // express.json(): malformed JSON, body too large, wrong charset. Its message quotes no body.
      const code = err.type === 'entity.too.large' ? 'BODY_TOO_LARGE' : 'INVALID_BODY';
      const message = err.type === 'entity.parse.failed' ? 'request body is not valid JSON' : err.type;
      res.status(err.status >= 400 && err.status < 500 ? err.status : 400).json(errorBody(code, message));
      return;
    }
    const e = err instanceof Error ? err : new Error(String(err));
    logger.error({ err: { name: e.name, message: e.message, code: (e as { code?: unknown }).code }, method: req.method, path: req.path }, 'request failed');
    res.status(500).json(errorBody('INTERNAL', 'internal error'));
  };
}
