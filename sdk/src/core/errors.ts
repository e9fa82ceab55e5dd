// The errors the client throws. Every failed API call is an APIError; its subclass says what happened by HTTP status
// (BadRequestError for 400, NotFoundError for 404, ...) and carries the API's error body: `code`, `message`, `param`.
// No response at all is an APIConnectionError (APITimeoutError when the client's timeout ended the attempt).

/** The API's error codes (docs/API.md); other strings may appear from proxies or newer servers. */
export type ErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'validation_failed'
  | 'rate_limited'
  | 'internal'
  | 'inference_unavailable'
  | (string & {});

/** Base class of everything this SDK throws on purpose. */
export class CoCoOpError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface APIErrorInit {
  status: number | undefined;
  code?: string | undefined;
  param?: string | undefined;
  message: string;
  headers?: Headers | undefined;
  /** The parsed response body, when it was JSON. */
  body?: unknown;
  cause?: unknown;
}

export class APIError extends CoCoOpError {
  /** HTTP status; undefined when no response arrived (APIConnectionError). */
  readonly status: number | undefined;
  /** The API's `error.code`, e.g. "not_found"; undefined when the answer had no error body. */
  readonly code: ErrorCode | undefined;
  /** The request field the error is about (`error.param`), e.g. "dataset_id" or "labels[2]". */
  readonly param: string | undefined;
  /** The response headers (Retry-After, X-RateLimit-*); undefined without a response. */
  readonly headers: Headers | undefined;
  /** The API's error object as it arrived (`{code, message, param?}`); undefined when the answer had none. */
  readonly error: { code: string; message: string; param?: string } | undefined;
  /** The parsed response body (text when it was not JSON). */
  readonly body: unknown;

  constructor(init: APIErrorInit) {
    super(init.status === undefined ? init.message : `${init.status} ${init.code ?? 'error'}: ${init.message}`, { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.param = init.param;
    this.headers = init.headers;
    this.body = init.body;
    this.error = init.code === undefined ? undefined : { code: init.code, message: init.message, ...(init.param === undefined ? {} : { param: init.param }) };
  }
}

export class BadRequestError extends APIError {}
export class AuthenticationError extends APIError {}
export class PermissionDeniedError extends APIError {}
export class NotFoundError extends APIError {}
export class ConflictError extends APIError {}
export class UnprocessableEntityError extends APIError {}
export class RateLimitError extends APIError {}
export class InternalServerError extends APIError {}

/** No response: the connection failed or was cut before an answer arrived. `cause` holds the fetch error. */
export class APIConnectionError extends APIError {
  constructor(init: { message?: string; cause?: unknown } = {}) {
    super({ status: undefined, message: init.message ?? 'Connection error.', cause: init.cause });
  }
}

/** The attempt took longer than the client's `timeout`. */
export class APITimeoutError extends APIConnectionError {
  constructor(timeoutMs: number) {
    super({ message: `Request timed out after ${timeoutMs} ms.` });
  }
}

/** The caller's AbortSignal stopped the call (never retried). */
export class APIUserAbortError extends CoCoOpError {
  constructor(reason?: unknown) {
    super('Request was aborted.', { cause: reason });
  }
}

/** The class of an error answer with this status. */
export function errorClassFor(status: number): typeof APIError {
  switch (status) {
    case 400:
      return BadRequestError;
    case 401:
      return AuthenticationError;
    case 403:
      return PermissionDeniedError;
    case 404:
      return NotFoundError;
    case 409:
      return ConflictError;
    case 422:
      return UnprocessableEntityError;
    case 429:
      return RateLimitError;
    default:
      return status >= 500 ? InternalServerError : APIError;
  }
}

/** The APIError for a non-2xx response (reads its body). */
export async function errorFromResponse(res: Response): Promise<APIError> {
  const text = await res.text().catch(() => '');
  let body: unknown = text;
  let code: string | undefined;
  let param: string | undefined;
  let message = text.slice(0, 500) || res.statusText || 'error';
  try {
    body = JSON.parse(text);
    const e = (body as { error?: { code?: unknown; message?: unknown; param?: unknown } }).error;
    if (e && typeof e === 'object') {
      if (typeof e.code === 'string') code = e.code;
      if (typeof e.message === 'string') message = e.message;
      if (typeof e.param === 'string') param = e.param;
    }
  } catch {
    // not JSON (a proxy, or S3's XML): the text is the message
  }
  const Cls = errorClassFor(res.status);
  return new Cls({ status: res.status, code, param, message, headers: res.headers, body });
}
