// Cursor pagination over time-ordered ids: `?limit=` (1..100, default 20) and `?after=<id>` (the last
// id of the previous page) → `{data, has_more}`. Ids sort by creation (edge/ids.ts), so `id > after`
// in `ORDER BY id` is "what came after"; a newest-first list uses order 'desc' and `id < after`.
import { z } from '@hono/zod-openapi';
import type { SqlDatabase, SqlValue } from '../ports.ts';

export const DEFAULT_PAGE_LIMIT = 20;
export const MAX_PAGE_LIMIT = 100;

/** The query schema of a list route (extend it for filters: `PaginationQuery.extend({...})`). */
export const PaginationQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_LIMIT)
    .default(DEFAULT_PAGE_LIMIT)
    .openapi({ param: { name: 'limit', in: 'query' }, description: `Items per page, 1..${MAX_PAGE_LIMIT}.`, example: 20 }),
  after: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .openapi({ param: { name: 'after', in: 'query' }, description: 'Cursor: the id of the last item of the previous page.' }),
});

export type Pagination = z.output<typeof PaginationQuery>;

export interface Page<T> {
  data: T[];
  has_more: boolean;
}

/** `{data: Item[], has_more}` for a route's response schema. */
export function pageSchema<T extends z.ZodType>(item: T, name?: string) {
  const schema = z.object({
    data: z.array(item),
    has_more: z.boolean().openapi({ description: 'True when a next page exists: request it with after=<last id>.' }),
  });
  return name ? schema.openapi(name) : schema;
}

export interface ListQuery {
  /** `SELECT <columns> FROM <from>`; trusted SQL written by the route, never user input. */
  from: string;
  columns?: string;
  /** Filter (trusted SQL with ? placeholders), e.g. `tenant_id = ?`. */
  where: string;
  binds: SqlValue[];
  order?: 'asc' | 'desc';
}

/** One page of rows ordered by id, with `has_more` from fetching one row past the page. */
export async function listPage<Row extends { id: string }>(db: SqlDatabase, q: ListQuery, page: Pagination): Promise<Page<Row>> {
  const desc = q.order === 'desc';
  const cursor = page.after !== undefined ? ` AND id ${desc ? '<' : '>'} ?` : '';
  const sql =
    `SELECT ${q.columns ?? '*'} FROM ${q.from} WHERE (${q.where})${cursor} ` +
    `ORDER BY id ${desc ? 'DESC' : 'ASC'} LIMIT ?`;
  const binds: SqlValue[] = [...q.binds, ...(page.after !== undefined ? [page.after] : []), page.limit + 1];
  const rows = await db
    .prepare(sql)
    .bind(...binds)
    .all<Row>();
  return { data: rows.slice(0, page.limit), has_more: rows.length > page.limit };
}
