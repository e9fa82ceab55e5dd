// Rate limits of the Workers build inside workerd (`wrangler dev`, local mode): the rate-limiting bindings of
// infra/cloudflare/wrangler.toml (their limits made small here), per API key and, for failed authentication,
// per client address (CF-Connecting-IP, which the local runtime sets); nothing is written to D1 for them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWranglerDev, type WranglerDev, WORKERD_ADMIN, WORKERD_WORKER, edgeVars } from '../../helpers/wrangler-dev.ts';

const ADMIN = WORKERD_ADMIN;
const WORKER = WORKERD_WORKER;
const KEY_LIMIT = 4;
const FAILURE_LIMIT = 3;

let dev: WranglerDev;
beforeAll(async () => {
  dev = await startWranglerDev({
    vars: edgeVars(null),
    editConfig: (toml) =>
      toml
        .replace(/(name = "RATE_LIMITER"[\s\S]*?limit = )\d+/, `$1${KEY_LIMIT}`)
        .replace(/(name = "AUTH_FAILURE_LIMITER"[\s\S]*?limit = )\d+/, `$1${FAILURE_LIMIT}`),
  });
}, 90_000);

afterAll(async () => {
  await dev?.stop();
});

const f = (path: string, init?: RequestInit) => fetch(dev.base + path, init);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * Sends `send()` until it is answered 429 (at most `max` times); the statuses. The bindings count in fixed
 * one-minute windows, so a window may end once during the test: a refusal must come after `limit` and at most
 * 2 × limit requests.
 */
async function untilRefused(send: () => Promise<Response>, max: number): Promise<{ statuses: number[]; refused: Response | null }> {
  const statuses: number[] = [];
  for (let i = 0; i < max; i++) {
    const res = await send();
    statuses.push(res.status);
    if (res.status === 429) return { statuses, refused: res };
  }
  return { statuses, refused: null };
}

describe('Workers rate-limiting bindings (workerd)', () => {
  it('per API key: 429 rate_limited with Retry-After once the key is over the binding\'s limit', async () => {
    const created = await f('/v1/tenants', {
      method: 'POST',
      headers: { ...bearer(ADMIN), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Busy' }),
    });
    expect(created.status).toBe(201);
    const { api_key } = (await created.json()) as { api_key: string };
    const { statuses, refused } = await untilRefused(() => f('/v1/me', { headers: bearer(api_key) }), 2 * KEY_LIMIT + 1);
    expect(refused, statuses.join()).not.toBeNull();
    expect(statuses.length).toBeGreaterThan(KEY_LIMIT);
    expect(statuses.slice(0, -1).every((s) => s === 200)).toBe(true);
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await refused!.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
  });

  it('failed authentication per client address: after the limit, 429 before credentials are checked', async () => {
    let i = 0;
    const { statuses, refused } = await untilRefused(
      () => f('/v1/me', { headers: bearer(`ck_live_${String(i++ % 10).repeat(32)}`) }),
      2 * FAILURE_LIMIT + 1,
    );
    expect(refused, statuses.join()).not.toBeNull();
    expect(statuses.length).toBeGreaterThan(FAILURE_LIMIT);
    expect(statuses.slice(0, -1).every((s) => s === 401)).toBe(true);
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // From then on the address is refused before its credentials are checked, even the right ones, on /v1 and the
    // worker API.
    expect((await f('/v1/tenants', { method: 'POST', headers: { ...bearer(ADMIN), 'content-type': 'application/json' }, body: '{"name":"x"}' })).status).toBe(429);
    expect((await f('/internal/v1/leases', { method: 'POST', headers: { ...bearer(WORKER), 'content-type': 'application/json' }, body: '{}' })).status).toBe(429);
    expect((await f('/healthz')).status).toBe(200);
  });
});
