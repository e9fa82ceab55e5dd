// The one error type of the public API and the handlers that turn anything thrown into
// `{"error": {code, message, param?}}` with the code's HTTP status.
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { AppEnv } from './context.ts';
import { randomString } from '../crypto.ts';

export const ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 422,
  rate_limited: 429,
  internal: 500,
  inference_unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; param?: string };
}

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly param?: string,
    /** Extra response headers, e.g. Retry-After. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toJSON(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.param !== undefined ? { param: this.param } : {}) } };
  }

  toResponse(c: Context): Response {
    return c.json(this.toJSON(), this.status, this.headers);
  }
}

export const invalidRequest = (message: string, param?: string) => new ApiError(400, 'invalid_request', message, param);
export const unauthorized = (message: string) =>
  new ApiError(401, 'unauthorized', message, undefined, { 'WWW-Authenticate': 'Bearer' });
export const forbidden = (message: string) => new ApiError(403, 'forbidden', message);
export const notFound = (message: string, param?: string) => new ApiError(404, 'not_found', message, param);
export const conflict = (message: string, param?: string) => new ApiError(409, 'conflict', message, param);
export const payloadTooLarge = (message: string) => new ApiError(413, 'payload_too_large', message);
export const unsupportedMediaType = (message: string) => new ApiError(415, 'unsupported_media_type', message);
export const validationFailed = (message: string, param?: string) => new ApiError(422, 'validation_failed', message, param);
export const rateLimited = (message: string, retryAfterSeconds: number) =>
  new ApiError(429, 'rate_limited', message, undefined, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) });
export const internalError = (message = 'Internal error; try again later.') => new ApiError(500, 'internal', message);
/** The inference service cannot answer now (down, timing out, or answering garbage): retry after `Retry-After` seconds. */
export const inferenceUnavailable = (message: string, retryAfterSeconds: number) =>
  new ApiError(503, 'inference_unavailable', message, undefined, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) });

/** Hono's own HTTPExceptions (from its validators and middleware) in our error shape. */
function fromHttpException(err: HTTPException, c: Context): ApiError {
  switch (err.status) {
    case 400:
      // hono's JSON validator: the body did not parse (the body guard catches most cases earlier).
      return invalidRequest('The request body is empty or not valid JSON; send a JSON object.');
    case 401:
      return unauthorized(err.message || 'Unauthorized.');
    case 404:
      return notFound(err.message || 'Not found.');
    case 413:
      return payloadTooLarge('The request body is too large.');
    case 415: {
      const ct = c.req.header('content-type');
      return unsupportedMediaType(
        ct
          ? `This endpoint does not accept Content-Type "${ct}"; send the body as JSON with "Content-Type: application/json".`
          : 'The request has a body but no Content-Type; send it as JSON with "Content-Type: application/json".',
      );
    }
    default:
      return err.status < 500 ? invalidRequest(err.message || 'Bad request.') : internalError();
  }
}

export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof ApiError) return err.toResponse(c);
  if (err instanceof HTTPException && err.status < 500) return fromHttpException(err, c).toResponse(c);
  // Anything else is our bug or an outage: log the detail under a reference, never send it.
  const ref = `err_${randomString(12, '0123456789abcdefghijklmnopqrstuvwxyz')}`;
  const logger = c.var?.config?.logger ?? console;
  logger.error(`[edge] ${ref} ${c.req.method} ${new URL(c.req.url).pathname} failed`, err);
  return internalError(`Internal error (reference ${ref}); try again later, and report the reference if it persists.`).toResponse(c);
};

export const onNotFound: NotFoundHandler<AppEnv> = (c) =>
  notFound(`No route ${c.req.method} ${new URL(c.req.url).pathname}; the API is described at /docs and /openapi.json.`).toResponse(c);
