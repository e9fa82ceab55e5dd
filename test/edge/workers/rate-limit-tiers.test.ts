// The Workers request-limit tiers (edge/workers/rate-limits.ts): a binding's limit is fixed in wrangler.toml and
// unknown to the Worker, so a tier binding's name states it (RATE_LIMITER_<limit>). Checked here: every tier in
// infra/cloudflare/wrangler.toml is configured with the limit its name states and the period the code assumes; and the
// choice of tier for an override (the largest limit not above it, else the smallest), with bindings that count in
// memory the way the real ones answer. workerd-usage.test.ts runs a tier for real.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import type { RateLimitBinding } from '../../../edge/workers/bindings.ts';
import { BINDING_PERIOD_SECONDS, bindingRequestLimiter, rateLimitTiers } from '../../../edge/workers/rate-limits.ts';

interface RateLimitEntry {
  name: string;
  namespace_id: string;
  simple: { limit: number; period: number };
}

const toml = parse(readFileSync(resolve(process.cwd(), 'infra/cloudflare/wrangler.toml'), 'utf8')) as unknown as { ratelimits: RateLimitEntry[] };

describe('wrangler.toml rate-limiting bindings', () => {
  it('every RATE_LIMITER_<limit> tier has that limit, the period of the code, and its own namespace', () => {
    const tiers = toml.ratelimits.filter((r) => /^RATE_LIMITER_\d+$/.test(r.name));
    expect(tiers.length).toBeGreaterThanOrEqual(2);
    for (const t of tiers) {
      expect(t.simple.limit, t.name).toBe(Number(t.name.slice('RATE_LIMITER_'.length)));
      expect(t.simple.period, t.name).toBe(BINDING_PERIOD_SECONDS);
    }
    const ids = toml.ratelimits.map((r) => r.namespace_id);
    expect(new Set(ids).size).toBe(ids.length);
    const fallback = toml.ratelimits.find((r) => r.name === 'RATE_LIMITER');
    expect(fallback?.simple.period).toBe(BINDING_PERIOD_SECONDS);
  });
});

/** A binding that allows `limit` hits per key (one window): what the real binding answers within a period. */
function countingBinding(limit: number): RateLimitBinding & { hits: number } {
  const counts = new Map<string, number>();
  return {
    hits: 0,
    async limit({ key }) {
      this.hits++;
      const n = (counts.get(key) ?? 0) + 1;
      counts.set(key, n);
      return { success: n <= limit };
    },
  };
}

describe('the tier of an override', () => {
  const env = { RATE_LIMITER: countingBinding(600), RATE_LIMITER_60: countingBinding(60), RATE_LIMITER_6000: countingBinding(6000), RATE_LIMITER_X: {} };
  const tiers = rateLimitTiers(env);
  const limiter = bindingRequestLimiter(env.RATE_LIMITER, 600, tiers);

  it('finds the RATE_LIMITER_<limit> bindings, ascending', () => {
    expect(tiers.map((t) => t.limit)).toEqual([60, 6000]);
  });

  it('the largest limit not above the override (the default binding counts as the tier of the default), else the smallest', () => {
    const cases: [number | undefined, number][] = [
      [undefined, 600],
      [1, 60],
      [59, 60],
      [60, 60],
      [599, 60],
      [600, 600],
      [5999, 600],
      [6000, 6000],
      [1_000_000, 6000],
    ];
    expect(cases.map(([o]) => limiter.policy(o).requests)).toEqual(cases.map(([, want]) => want));
    expect(limiter.policy(60).windowSeconds).toBe(BINDING_PERIOD_SECONDS);
  });

  it('hits go to the chosen binding', async () => {
    const before = [env.RATE_LIMITER.hits, env.RATE_LIMITER_60.hits, env.RATE_LIMITER_6000.hits];
    await limiter.hit('key:a', 100);
    await limiter.hit('key:a');
    await limiter.hit('key:a', 7000);
    expect([env.RATE_LIMITER.hits, env.RATE_LIMITER_60.hits, env.RATE_LIMITER_6000.hits]).toEqual([before[0] + 1, before[1] + 1, before[2] + 1]);
    const decisions = [];
    for (let i = 0; i < 61; i++) decisions.push((await limiter.hit('key:b', 60)).allowed);
    expect(decisions.indexOf(false)).toBe(60);
  });
});
