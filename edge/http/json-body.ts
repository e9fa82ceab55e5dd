// Request bodies: bounded reading (413 by Content-Length and by the bytes actually read), JSON
// syntax (400), content type (415) and zod validation (422).
//
// In the app, `jsonBodyGuard` runs on /v1 after auth: it reads and syntax-checks every JSON body once
// and leaves the bytes in Hono's body cache, so the route's zod validator (@hono/zod-openapi, from
// `request.body` in the route definition) parses the cached bytes and never touches the raw stream.
// `parseJson` does all four steps in one call for code that reads a body by hand.
import type { Context, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import type { AppEnv } from './context.ts';
import { invalidRequest, payloadTooLarge, unsupportedMediaType } from './errors.ts';
import { zodErrorToApiError } from './validation.ts';

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

export function isJsonContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  return JSON_MEDIA_TYPE.test(contentType.split(';')[0].trim());
}

function tooLarge(maxBytes: number, declared?: number): never {
  throw payloadTooLarge(
    declared !== undefined
      ? `The request body is ${declared} bytes; the limit is ${maxBytes} bytes. Send less data per request.`
      : `The request body exceeds the limit of ${maxBytes} bytes. Send less data per request.`,
  );
}

/**
 * The request body, at most `maxBytes` (else 413, checked on Content-Length before reading and on the
 * bytes as they arrive). Read once: the bytes go to Hono's body cache, so c.req.json()/text()/
 * arrayBuffer() and later calls return them.
 */
export async function readBodyBytes(c: Context, maxBytes: number): Promise<Uint8Array> {
  const cache = c.req.bodyCache;
  if (cache.arrayBuffer) {
    const buf = new Uint8Array(await cache.arrayBuffer);
    if (buf.byteLength > maxBytes) tooLarge(maxBytes, buf.byteLength);
    return buf;
  }
  if (Object.keys(cache).length > 0) {
    // Someone else read it already (as text or JSON): hono converts from that.
    const buf = new Uint8Array(await c.req.arrayBuffer());
    if (buf.byteLength > maxBytes) tooLarge(maxBytes, buf.byteLength);
    return buf;
  }

  const declared = c.req.header('content-length');
  if (declared !== undefined && /^\d+$/.test(declared.trim()) && Number(declared) > maxBytes) {
    tooLarge(maxBytes, Number(declared));
  }

  const chunks: Uint8Array[] = [];
  let total = 0;
  const body = c.req.raw.body;
  if (body) {
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        tooLarge(maxBytes);
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(total);
  let off = 0;
  for (const ch of chunks) {
    bytes.set(ch, off);
    off += ch.byteLength;
  }
  // Hono keeps promises in its body cache (its type says otherwise) and converts from them on demand.
  cache.arrayBuffer = Promise.resolve(bytes.buffer) as unknown as ArrayBuffer;
  return bytes;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** JSON.parse of the body bytes; 400 invalid_request (with the parser's complaint) when they are not JSON. */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  if (bytes.byteLength === 0) throw invalidRequest('The request body is empty; send a JSON object.');
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw invalidRequest('The request body is not valid UTF-8; send JSON encoded as UTF-8.');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const why = err instanceof SyntaxError ? ` (${err.message})` : '';
    throw invalidRequest(`The request body is not valid JSON${why}; send a JSON object.`);
  }
}

/**
 * App middleware for /v1: a request that declares a JSON body has it read (bounded by
 * config.maxJsonBytes) and syntax-checked here; other requests pass untouched (a JSON route then
 * answers 415 for them; upload routes read their own bodies with their own limits).
 */
export const jsonBodyGuard: MiddlewareHandler<AppEnv> = async (c, next) => {
  const method = c.req.method;
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return next();
  if (!isJsonContentType(c.req.header('content-type'))) return next();
  const bytes = await readBodyBytes(c, c.var.config.maxJsonBytes);
  if (bytes.byteLength > 0) parseJsonBytes(bytes);
  return next();
};

/** Reads and validates a JSON body by hand: 415 wrong type, 413 too large, 400 not JSON, 422 schema. */
export async function parseJson<S extends z.ZodType>(c: Context<AppEnv>, schema: S): Promise<z.output<S>> {
  const ct = c.req.header('content-type');
  if (!isJsonContentType(ct)) {
    throw unsupportedMediaType(
      ct
        ? `This endpoint does not accept Content-Type "${ct}"; send the body as JSON with "Content-Type: application/json".`
        : 'Send the body as JSON with "Content-Type: application/json".',
    );
  }
  const value = parseJsonBytes(await readBodyBytes(c, c.var.config.maxJsonBytes));
  const result = await schema.safeParseAsync(value);
  if (!result.success) throw zodErrorToApiError(result.error, value, 'json');
  return result.data;
}
