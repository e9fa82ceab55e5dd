// Cursor pagination over real SQLite and real HTTP: limit bounds, walking every page exactly once in
// creation order (time-ordered ids), has_more, descending lists, tenant filter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoute, z } from '@hono/zod-openapi';
import { resolveConfig } from '../../../edge/config.ts';
import { onError } from '../../../edge/http/errors.ts';
import { newRouter } from '../../../edge/http/openapi.ts';
import { PaginationQuery, listPage, pageSchema } from '../../../edge/http/pagination.ts';
import { idTime, newId } from '../../../edge/ids.ts';
import { MemoryCache } from '../../../edge/node/memory-cache.ts';
import { SqliteDatabase } from '../../../edge/node/sqlite-database.ts';
import { ADMIN_TOKEN, unreachableBlobStore, WORKER_TOKEN, serveApp } from '../../helpers/edge.ts';

const Item = z.object({ id: z.string(), n: z.number() });

let server: { url: string; close(): Promise<void> };
let db: SqliteDatabase;
const ids: string[] = [];

beforeAll(async () => {
  db = new SqliteDatabase(':memory:');
  db.raw.exec('CREATE TABLE items (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, n INTEGER NOT NULL)');
  // 45 items of tenant a, made over five milliseconds, ten in each (explicit times): ids must still come out in
  // creation order, across milliseconds and within one.
  const start = Date.now();
  for (let i = 0; i < 45; i++) {
    const id = newId('dataset', start + Math.floor(i / 10));
    ids.push(id);
    db.raw.prepare('INSERT INTO items VALUES (?, ?, ?)').run(id, 'a', i);
  }
  for (let i = 0; i < 5; i++) db.raw.prepare('INSERT INTO items VALUES (?, ?, ?)').run(newId('dataset'), 'b', 100 + i);
  const config = resolveConfig({ adminToken: ADMIN_TOKEN, workerToken: WORKER_TOKEN });

  const app = newRouter();
  app.use('*', async (c, next) => {
    c.set('ports', { db, blobs: unreachableBlobStore(), cache: new MemoryCache() });
    c.set('config', config);
    await next();
  });
  const list = createRoute({
    method: 'get',
    path: '/items',
    request: { query: PaginationQuery.extend({ order: z.enum(['asc', 'desc']).optional() }) },
    responses: { 200: { description: 'page', content: { 'application/json': { schema: pageSchema(Item) } } } },
  });
  app.openapi(list, async (c) => {
    const q = c.req.valid('query');
    const page = await listPage<{ id: string; n: number }>(
      c.var.ports.db,
      { from: 'items', columns: 'id, n', where: 'tenant = ?', binds: ['a'], order: q.order },
      q,
    );
    return c.json(page, 200);
  });
  app.onError(onError);
  server = await serveApp(app);
});

afterAll(async () => {
  await server?.close();
  db?.close();
});

async function get(query: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/items${query}`);
  return { status: res.status, body: await res.json() };
}

describe('pagination', () => {
  it('ids made later sort later', () => {
    expect(new Set(ids.map(idTime)).size).toBe(5);
    expect([...ids].sort()).toEqual(ids);
  });

  it('default limit 20, has_more', async () => {
    const { status, body } = await get('');
    expect(status).toBe(200);
    expect(body.data).toHaveLength(20);
    expect(body.has_more).toBe(true);
    expect(body.data.map((d: { n: number }) => d.n)).toEqual([...Array(20).keys()]);
  });

  it('walks all pages with ?after= exactly once, in creation order, then has_more false', async () => {
    const seen: number[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const { body } = await get(`?limit=7${after ? `&after=${after}` : ''}`);
      pages++;
      seen.push(...body.data.map((d: { n: number }) => d.n));
      if (!body.has_more) break;
      after = body.data[body.data.length - 1].id;
    }
    expect(pages).toBe(7); // 45 = 6 * 7 + 3
    expect(seen).toEqual([...Array(45).keys()]);
  });

  it('a page that ends exactly at the last item says has_more false', async () => {
    const { body } = await get('?limit=45');
    expect(body.data).toHaveLength(45);
    expect(body.has_more).toBe(false);
    const last = await get(`?after=${ids[44]}`);
    expect(last.body).toEqual({ data: [], has_more: false });
  });

  it('descending order: after means "older than"', async () => {
    const first = await get('?limit=10&order=desc');
    expect(first.body.data.map((d: { n: number }) => d.n)).toEqual([44, 43, 42, 41, 40, 39, 38, 37, 36, 35]);
    const next = await get(`?limit=10&order=desc&after=${first.body.data[9].id}`);
    expect(next.body.data[0].n).toBe(34);
  });

  it('limit 1 and 100 are fine; 0, 101, -1, 2.5 and abc are 422 with param limit', async () => {
    expect((await get('?limit=1')).body.data).toHaveLength(1);
    expect((await get('?limit=100')).body.data).toHaveLength(45);
    for (const bad of ['0', '101', '-1', '2.5', 'abc', '']) {
      const { status, body } = await get(`?limit=${bad}`);
      expect(status, bad).toBe(422);
      expect(body.error.code).toBe('validation_failed');
      expect(body.error.param).toBe('limit');
      expect(body.error.message).toMatch(/Query parameter "limit"/);
    }
  });
});
