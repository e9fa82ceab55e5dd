// The cap on webhook endpoints per tenant (config maxWebhookEndpoints, MAX_WEBHOOK_ENDPOINTS): over it, create is
// 409 conflict in the API's error shape and writes nothing (no endpoint, no Idempotency-Key kept), also when
// requests race; other tenants are not affected. A local-mode edge on SQLite over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../edge/http/errors.ts';
import { createEndpoint } from '../../../edge/webhooks/endpoints.ts';
import { type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';

const CAP = 3;
let edge: TestEdge;
beforeAll(async () => {
  edge = await startTestEdge({ localMode: true, maxWebhookEndpoints: CAP });
});
afterAll(async () => {
  await edge?.close();
});

const create = (key: string, path: string, extra: Record<string, string> = {}) =>
  edge.fetch('/v1/webhook-endpoints', { method: 'POST', headers: jsonHeaders(key, extra), body: JSON.stringify({ url: `http://127.0.0.1:9/${path}` }) });
const count = (table: string, tenantId?: string) =>
  (edge.db.raw.prepare(`SELECT COUNT(*) AS n FROM ${table}${tenantId ? ' WHERE tenant_id = ?' : ''}`).get(...(tenantId ? [tenantId] : [])) as { n: number }).n;

describe('webhook endpoints per tenant', () => {
  it(`refuses endpoint ${CAP + 1} with 409 conflict and writes nothing; deleting one makes room`, async () => {
    const t = await edge.createTenant('Capped');
    const ids: string[] = [];
    for (let i = 0; i < CAP; i++) {
      const res = await create(t.api_key, `h${i}`);
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as { id: string }).id);
    }
    const keysBefore = count('idempotency_keys');
    const over = await create(t.api_key, 'one-too-many', { 'Idempotency-Key': 'cap-1' });
    expect(over.status).toBe(409);
    const body = (await over.json()) as { error: { code: string; message: string } };
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error.code).toBe('conflict');
    expect(body.error.message).toMatch(new RegExp(`${CAP} webhook endpoints`));
    expect(count('webhook_endpoints', t.id)).toBe(CAP);
    expect(count('idempotency_keys')).toBe(keysBefore);

    // Another tenant is not affected.
    const other = await edge.createTenant('Other');
    expect((await create(other.api_key, 'other')).status).toBe(201);

    // Deleting one makes room, and the same Idempotency-Key now creates it.
    expect((await edge.fetch(`/v1/webhook-endpoints/${ids[0]}`, { method: 'DELETE', headers: bearer(t.api_key) })).status).toBe(204);
    expect((await create(t.api_key, 'one-too-many', { 'Idempotency-Key': 'cap-1' })).status).toBe(201);
    expect(count('webhook_endpoints', t.id)).toBe(CAP);
  });

  it('parallel creates never exceed the cap', async () => {
    const t = await edge.createTenant('Racing');
    expect((await create(t.api_key, 'first')).status).toBe(201);
    const statuses = await Promise.all(Array.from({ length: 8 }, (_, i) => create(t.api_key, `race-${i}`, { 'Idempotency-Key': `race-${i}` }).then((r) => r.status)));
    expect(statuses.filter((s) => s === 201)).toHaveLength(CAP - 1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(8 - (CAP - 1));
    expect(count('webhook_endpoints', t.id)).toBe(CAP);
    expect(edge.loggedErrors).toEqual([]);
  });

  it('two creates that both passed the first count: the insert itself refuses the one over the cap', async () => {
    const t = await edge.createTenant('Interleaved');
    for (let i = 0; i < CAP - 1; i++) expect((await create(t.api_key, `pre-${i}`)).status).toBe(201);
    // Called together, both count CAP − 1 endpoints before either inserts.
    const o = (path: string) => ({ tenantId: t.id, url: `http://127.0.0.1:9/${path}`, localMode: true, maxEndpoints: CAP });
    const results = await Promise.allSettled([createEndpoint(edge.db, o('a')), createEndpoint(edge.db, o('b'))]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(ApiError);
    expect(refused.reason).toMatchObject({ status: 409, code: 'conflict' });
    expect(count('webhook_endpoints', t.id)).toBe(CAP);
  });
});
