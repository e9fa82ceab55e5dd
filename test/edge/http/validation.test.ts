// zod issues → 422 messages that name the field and say what to change; parseJson's four checks.
import { describe, expect, it } from 'vitest';
import { z } from '@hono/zod-openapi';
import { createApp } from '../../../edge/app.ts';
import { resolveConfig } from '../../../edge/config.ts';
import { ApiError } from '../../../edge/http/errors.ts';
import { parseJson } from '../../../edge/http/json-body.ts';
import { formatPath, zodErrorToApiError } from '../../../edge/http/validation.ts';
import { MemoryCache } from '../../../edge/node/memory-cache.ts';
import { SqliteDatabase } from '../../../edge/node/sqlite-database.ts';
import { ADMIN_TOKEN, unreachableBlobStore, WORKER_TOKEN, serveApp } from '../../helpers/edge.ts';

const Schema = z.strictObject({
  name: z.string().min(1),
  method: z.enum(['cocoop', 'coop']),
  classes: z.array(z.string().min(1)).min(2).optional(),
  hyperparameters: z.strictObject({ epochs: z.number().int().min(1).max(100) }).optional(),
  url: z.url().optional(),
});

function errorFor(input: unknown): ApiError {
  const r = Schema.safeParse(input);
  expect(r.success).toBe(false);
  return zodErrorToApiError(r.error!, input);
}

describe('zod issues as validation_failed', () => {
  it('formats nested paths', () => {
    expect(formatPath(['hyperparameters', 'epochs'])).toBe('hyperparameters.epochs');
    expect(formatPath(['classes', 2])).toBe('classes[2]');
    expect(formatPath(['files', 0, 'label'])).toBe('files[0].label');
  });

  it('names the field and says what to change', () => {
    const base = { name: 'x', method: 'coop' };
    const cases: [unknown, string | undefined, RegExp][] = [
      [{ method: 'coop' }, 'name', /"name" is required/],
      [{ ...base, method: 'sgd' }, 'method', /one of "cocoop", "coop"/],
      [{ ...base, classes: ['a'] }, 'classes', /at least 2 items/],
      [{ ...base, classes: ['a', ''] }, 'classes[1]', /must not be empty/],
      [{ ...base, classes: ['a', 3] }, 'classes[1]', /must be a string, not number 3/],
      [{ ...base, hyperparameters: { epochs: 0 } }, 'hyperparameters.epochs', /at least 1/],
      [{ ...base, hyperparameters: { epochs: 1000 } }, 'hyperparameters.epochs', /at most 100/],
      [{ ...base, hyperparameters: { epochs: 1.5 } }, 'hyperparameters.epochs', /integer/],
      [{ ...base, hyperparameters: { epochs: 3, lr: 1 } }, 'hyperparameters.lr', /Unknown field "hyperparameters.lr"/],
      [{ ...base, url: 'not a url' }, 'url', /valid url/],
      [{ ...base, extra: 1, more: 2 }, 'extra', /Unknown fields "extra", "more"/],
      ['just a string', undefined, /must be a JSON object/],
    ];
    for (const [input, param, message] of cases) {
      const err = errorFor(input);
      expect(err.status).toBe(422);
      expect(err.code).toBe('validation_failed');
      expect(err.param, JSON.stringify(input)).toBe(param);
      expect(err.message, JSON.stringify(input)).toMatch(message);
    }
  });
});

describe('parseJson', () => {
  it('415, 413, 400 and 422 in a hand-written handler', async () => {
    const db = new SqliteDatabase(':memory:');
    const config = resolveConfig({ adminToken: ADMIN_TOKEN, workerToken: WORKER_TOKEN, maxJsonBytes: 100 });
    const app = createApp({ db, blobs: unreachableBlobStore(), cache: new MemoryCache() }, config);
    app.post('/hand', async (c) => c.json(await parseJson(c, z.strictObject({ n: z.number() }))));
    const server = await serveApp(app);
    try {
      const post = (body: string, ct = 'application/json') =>
        fetch(`${server.url}/hand`, { method: 'POST', headers: { 'content-type': ct }, body });
      let res = await post('{"n": 1}');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ n: 1 });
      res = await post('{"n": 1}', 'text/plain');
      expect(res.status).toBe(415);
      res = await post(`{"n": 1, "pad": "${'x'.repeat(200)}"}`);
      expect(res.status).toBe(413);
      res = await post('{"n": ');
      expect(res.status).toBe(400);
      res = await post('{"n": "1"}');
      expect(res.status).toBe(422);
      expect(((await res.json()) as { error: { param: string } }).error.param).toBe('n');
    } finally {
      await server.close();
      db.close();
    }
  });
});
