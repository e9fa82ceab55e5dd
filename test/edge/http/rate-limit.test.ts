// Rate limits on the edge on Node over real HTTP (edge/http/rate-limit.ts, edge/node/rate-limits.ts): the per-key
// limit is counted in process memory (no database write per request), and failed authentication is limited per
// client address (the socket's, or a configured proxy header) on /v1 and /internal/v1. Each edge runs on a clock held
// still, so a test's requests all fall in one window (on the real clock a minute boundary between two requests reset
// the count: a 401 where 429 was due, once in a loaded run).
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type TestEdge, WORKER_TOKEN, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { count } from '../../helpers/jobs.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';

/** A clock held still (the window never ends during a test). */
const held = () => new ManualClock().now;

let edge: TestEdge;
afterEach(async () => {
  await edge?.close();
});

type ApiError = { code: string; message: string };
const errorOf = async (res: Response) => ((await res.json()) as { error: ApiError }).error;

describe('per-key limit', () => {
  it('counts without writing the database: 429 over the limit, and no rate-limit row is ever written', async () => {
    edge = await startTestEdge({ rateLimit: { requestsPerWindow: 3, windowMs: 60_000 }, clock: held() });
    const t = await edge.createTenant('Busy');
    // The key's first use records its last_used_at (one write; the next is due a minute later at the earliest).
    expect((await edge.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(200);
    const changesBefore = (edge.db.raw.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    for (let i = 0; i < 2; i++) expect((await edge.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(200);
    const over = await edge.fetch('/v1/me', { headers: bearer(t.api_key) });
    expect(over.status).toBe(429);
    expect((await errorOf(over)).code).toBe('rate_limited');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // GET /v1/me writes nothing itself, so the connection made no change at all for these three requests.
    expect((edge.db.raw.prepare('SELECT total_changes() AS n').get() as { n: number }).n).toBe(changesBefore);
    expect(count(edge, 'SELECT COUNT(*) AS n FROM rate_windows')).toBe(0);
  });
});

describe('failed authentication, per client address', () => {
  it('after the limit of failures every request from that address is 429 with Retry-After, before its credentials are checked; the worker API counts too', async () => {
    edge = await startTestEdge({ rateLimit: { authFailuresPerWindow: 3 }, clock: held() });
    const t = await edge.createTenant('Victim');
    expect((await edge.fetch('/v1/me', { headers: bearer(`ck_live_${'x'.repeat(32)}`) })).status).toBe(401); // unknown key
    expect((await edge.fetch('/v1/tenants', { method: 'POST', headers: jsonHeaders(`${ADMIN_TOKEN}-wrong`), body: '{}' })).status).toBe(401); // bad admin token
    expect((await edge.fetch('/internal/v1/leases', { method: 'POST', headers: jsonHeaders(`${WORKER_TOKEN}-wrong`), body: '{}' })).status).toBe(401); // bad worker token

    const fourth = await edge.fetch('/v1/me', { headers: bearer('garbage') });
    expect(fourth.status).toBe(429);
    const retry = Number(fourth.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    const err = await errorOf(fourth);
    expect(err.code).toBe('rate_limited');
    expect(err.message).toMatch(/failed authentication/i);

    // Blocked before the check: a right key from the same address waits too (no oracle for guesses).
    expect((await edge.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(429);
    expect((await edge.fetch('/internal/v1/leases', { method: 'POST', headers: jsonHeaders(WORKER_TOKEN), body: '{}' })).status).toBe(429);
    // Routes without credentials are not affected.
    expect((await edge.fetch('/healthz')).status).toBe(200);
  });

  it('successful requests do not count, and a revoked key counts as a failure', async () => {
    edge = await startTestEdge({ rateLimit: { authFailuresPerWindow: 2 }, clock: held() });
    const t = await edge.createTenant('Fine');
    for (let i = 0; i < 5; i++) expect((await edge.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(200);
    const k = (await (await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(t.api_key) })).json()) as { id: string; api_key: string };
    expect((await edge.fetch(`/v1/api-keys/${k.id}`, { method: 'DELETE', headers: bearer(t.api_key) })).status).toBe(204);
    expect((await edge.fetch('/v1/me', { headers: bearer(k.api_key) })).status).toBe(401);
    expect((await edge.fetch('/v1/me', { headers: bearer(k.api_key) })).status).toBe(401);
    expect((await edge.fetch('/v1/me', { headers: bearer(k.api_key) })).status).toBe(429);
  });

  it('X-Forwarded-For is not trusted unless configured; with CLIENT_IP_HEADER the proxy-set address is the bucket', async () => {
    edge = await startTestEdge({ rateLimit: { authFailuresPerWindow: 1 }, clock: held() });
    const bad = (ip: string) => edge.fetch('/v1/me', { headers: bearer('garbage', { 'x-forwarded-for': ip }) });
    expect((await bad('203.0.113.1')).status).toBe(401);
    expect((await bad('203.0.113.2')).status).toBe(429); // the same socket address: a spoofed header changes nothing
    await edge.close();

    edge = await startTestEdge({ rateLimit: { authFailuresPerWindow: 1, clientIpHeader: 'x-real-ip' }, clock: held() });
    const viaProxy = (ip: string) => edge.fetch('/v1/me', { headers: bearer('garbage', { 'x-real-ip': ip }) });
    expect((await viaProxy('203.0.113.1')).status).toBe(401);
    expect((await viaProxy('203.0.113.1')).status).toBe(429);
    expect((await viaProxy('203.0.113.2')).status).toBe(401); // another client behind the same proxy
  });
});
