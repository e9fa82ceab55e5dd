// The inference server's requests, parsed with the schemas of shared/contracts/inference-api.ts, with the status
// codes of docs/API-internal.md: a request of the wrong shape (not an object, a field of the wrong type, a malformed
// adapter reference) is 400 invalid_request; one the service refuses as sent (another base model, empty, too many
// or too long, repeated labels, CoCoOp text embeddings, undecodable images) is 422 validation_failed.
import type { z } from 'zod';
import { AdapterRef, ClassifyRequest, TextEmbeddingsRequest } from '../../shared/contracts/inference-api.ts';

export class HttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 422,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
export const bad = (message: string) => new HttpError(400, 'invalid_request', message);
export const invalid = (message: string) => new HttpError(422, 'validation_failed', message);

type Body = Record<string, unknown>;

/** The body as an object naming this service's model; 400 / 422 otherwise. */
function checkBody(v: unknown, modelName: string): Body {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('request body must be a JSON object');
  const b = v as Body;
  if (typeof b.base_model !== 'string') throw bad('base_model must be a string');
  if (b.base_model !== modelName) throw invalid(`unknown base_model "${b.base_model.slice(0, 100)}" (this service runs "${modelName}")`);
  return b;
}

export function parseClassifyRequest(body: unknown, modelName: string): ClassifyRequest {
  const b = checkBody(body, modelName);
  const req = parseWith(ClassifyRequest, b);
  distinct(req.labels, 'labels');
  if (req.labels.some((l) => l.trim() === '')) throw invalid('labels must not be empty');
  return { ...req, adapter: lowerSha(req.adapter) };
}

export function parseTextEmbeddingsRequest(body: unknown, modelName: string): TextEmbeddingsRequest {
  const b = checkBody(body, modelName);
  if (AdapterRef.safeParse(b.adapter).data?.method === 'cocoop') {
    throw invalid('text embeddings need a zero-shot or CoOp model (CoCoOp prompts depend on the image)');
  }
  const req = parseWith(TextEmbeddingsRequest, b);
  distinct(req.texts, 'texts');
  return { ...req, adapter: lowerSha(req.adapter) };
}

/** `schema` applied to the body (a missing adapter is the zero-shot model); the first problem as a 400 or 422. */
function parseWith<S extends z.ZodType>(schema: S, b: Body): z.infer<S> {
  const parsed = schema.safeParse({ ...b, adapter: b.adapter ?? null });
  if (parsed.success) return parsed.data;
  throw problem(parsed.error.issues[0]!, b);
}

const FIELD_TYPES: Record<string, string> = { images: 'base64 string', labels: 'string', texts: 'string' };

/** One zod issue in the words (and with the status) the service has always used. */
function problem(issue: z.core.$ZodIssue, b: Body): HttpError {
  const [field, index] = issue.path as (string | number)[];
  if (field === 'adapter') {
    const part = issue.path[1];
    if (part === 'key') return bad('adapter.key must be a non-empty string');
    if (part === 'sha256') return bad('adapter.sha256 must be 64 hex digits');
    if (part === 'method') return bad('adapter.method must be "coop" or "cocoop"');
    if (issue.code === 'unrecognized_keys') return bad(`adapter has unknown fields: ${issue.keys.join(', ')}`);
    return bad('adapter must be null or an object {key, sha256, method}');
  }
  if (typeof field === 'string' && field in FIELD_TYPES) {
    const type = FIELD_TYPES[field]!;
    if (index === undefined) {
      if (issue.code === 'invalid_type') return bad(`${field} must be an array of ${type}s`);
      if (issue.code === 'too_small') return invalid(`${field} must not be empty`);
      if (issue.code === 'too_big') return invalid(`at most ${issue.maximum} ${field} per request (got ${(b[field] as unknown[]).length})`);
    } else {
      if (issue.code === 'invalid_type') return bad(`${field}[${index}] must be a ${type}`);
      if (issue.code === 'too_big') return invalid(`${field}[${index}] is longer than ${issue.maximum} characters`);
    }
  }
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  const shape = issue.code === 'invalid_type' || issue.code === 'invalid_value' || issue.code === 'invalid_format' || issue.code === 'unrecognized_keys';
  return (shape ? bad : invalid)(`${where}${issue.message}`);
}

function distinct(list: string[], field: string): void {
  const seen = new Set<string>();
  for (const s of list) {
    if (seen.has(s)) throw invalid(`${field} must be distinct ("${s.slice(0, 80)}" appears twice)`);
    seen.add(s);
  }
}

function lowerSha<A extends AdapterRef | null>(ref: A): A {
  return (ref ? { ...ref, sha256: ref.sha256.toLowerCase() } : ref) as A;
}
