// zod failures as 422 validation_failed: `param` is the path of the first issue and the message says
// what to change. Used as the defaultHook of every OpenAPIHono router and by parseJson.
import type { Hook } from '@hono/zod-openapi';
import type { ZodError } from 'zod';
import { type ApiError, validationFailed } from './errors.ts';

type Issue = ZodError['issues'][number];
type Target = 'json' | 'query' | 'param' | 'header' | 'cookie' | 'form';

/** `hyperparameters.epochs`, `classes[2]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return v.length > 40 ? `a string ("${v.slice(0, 40)}…")` : `"${v}"`;
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return `${typeof v} ${String(v)}`;
}

function article(type: string): string {
  const t = type === 'int' ? 'integer' : type;
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

const LABEL: Record<Target, string> = {
  json: 'Field',
  form: 'Form field',
  query: 'Query parameter',
  param: 'Path parameter',
  header: 'Header',
  cookie: 'Cookie',
};

function sizeWord(origin: string, n: number | bigint): string {
  switch (origin) {
    case 'string':
      return `${n} character${n === 1 ? '' : 's'}`;
    case 'array':
    case 'set':
      return `${n} item${n === 1 ? '' : 's'}`;
    default:
      return String(n);
  }
}

/** The first issue as a 422 ApiError. `input` is what was validated (to tell a missing field from a wrong one). */
export function issueToError(issue: Issue, input: unknown, target: Target = 'json'): ApiError {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys;
    const params = keys.map((k) => formatPath([...path, k]));
    const what = target === 'json' ? 'field' : LABEL[target].toLowerCase();
    return validationFailed(
      keys.length === 1
        ? `Unknown ${what} "${params[0]}"; remove it (check the spelling against /docs).`
        : `Unknown ${what}s ${params.map((p) => `"${p}"`).join(', ')}; remove them (check the spelling against /docs).`,
      params[0],
    );
  }

  const param = path.length > 0 ? formatPath(path) : undefined;
  const value = valueAt(input, path);
  if (param === undefined) {
    if (target === 'json') {
      const msg =
        issue.code === 'invalid_type' && issue.expected === 'object'
          ? `The request body must be a JSON object, not ${describeValue(input)}.`
          : `The request body is invalid: ${issue.message}.`;
      return validationFailed(msg);
    }
    return validationFailed(`Invalid ${LABEL[target].toLowerCase()}s: ${issue.message}.`);
  }

  const name = `${LABEL[target]} "${param}"`;
  let message: string;
  switch (issue.code) {
    case 'invalid_type':
      message =
        value === undefined
          ? `${name} is required (${article(issue.expected)}).`
          : `${name} must be ${article(issue.expected)}, not ${describeValue(value)}.`;
      break;
    case 'too_small': {
      const min = issue.minimum as number | bigint;
      if (issue.origin === 'string' && Number(min) === 1) message = `${name} must not be empty.`;
      else if (issue.origin === 'string' || issue.origin === 'array' || issue.origin === 'set')
        message = `${name} must have at least ${sizeWord(issue.origin, min)}.`;
      else message = `${name} must be ${issue.inclusive === false ? 'greater than' : 'at least'} ${min}, not ${describeValue(value)}.`;
      break;
    }
    case 'too_big': {
      const max = issue.maximum as number | bigint;
      if (issue.origin === 'string' || issue.origin === 'array' || issue.origin === 'set')
        message = `${name} must have at most ${sizeWord(issue.origin, max)}.`;
      else message = `${name} must be ${issue.inclusive === false ? 'less than' : 'at most'} ${max}, not ${describeValue(value)}.`;
      break;
    }
    case 'invalid_value':
      message = `${name} must be ${issue.values.length === 1 ? '' : 'one of '}${issue.values.map((v) => JSON.stringify(v)).join(', ')}, not ${describeValue(value)}.`;
      break;
    case 'invalid_format':
      message =
        issue.format === 'regex'
          ? `${name} is not in the expected format (${issue.message}).`
          : `${name} must be a valid ${issue.format}, not ${describeValue(value)}.`;
      break;
    case 'not_multiple_of':
      message = `${name} must be a multiple of ${String(issue.divisor)}.`;
      break;
    default:
      message = `${name}: ${issue.message}.`;
  }
  return validationFailed(message, param);
}

export function zodErrorToApiError(error: ZodError, input: unknown, target: Target = 'json'): ApiError {
  return issueToError(error.issues[0], input, target);
}

/**
 * The OpenAPIHono defaultHook: a failed validation throws the 422 (the app's onError renders it).
 * @hono/zod-validator passes the validated input as `data` on failure too.
 */
export const validationHook: Hook<unknown, any, any, undefined> = (result) => {
  if (result.success) return undefined;
  const input = (result as unknown as { data?: unknown }).data;
  throw zodErrorToApiError(result.error, input, result.target as Target);
};
