// Edge configuration: defaults, validation (every problem listed), environment variables.
import { describe, expect, it } from 'vitest';
import { ConfigError, configFromEnv, resolveConfig } from '../../edge/config.ts';

const tokens = { adminToken: 'a'.repeat(20), workerToken: 'w'.repeat(20) };

describe('resolveConfig', () => {
  it('applies the defaults', () => {
    const c = resolveConfig(tokens);
    expect(c.localMode).toBe(false);
    expect(c.maxJsonBytes).toBe(1024 * 1024);
    expect(c.rateLimit).toEqual({ requestsPerWindow: 600, windowMs: 60_000, authFailuresPerWindow: 30 });
    expect(c.quotas).toEqual({ datasets: 50, images: 20000, bytes: 2 * 1024 ** 3, concurrent_jobs: 2 });
    expect(c.publicBaseUrl).toBeUndefined();
    expect(c.maxJobAttempts).toBe(5);
  });

  it('reads MAX_JOB_ATTEMPTS and refuses a limit below 1', () => {
    const env = { ADMIN_TOKEN: tokens.adminToken, WORKER_TOKEN: tokens.workerToken };
    expect(configFromEnv({ ...env, MAX_JOB_ATTEMPTS: '3' }).maxJobAttempts).toBe(3);
    expect(() => configFromEnv({ ...env, MAX_JOB_ATTEMPTS: '0' })).toThrow(/maxJobAttempts must be a positive integer/);
    expect(() => configFromEnv({ ...env, MAX_JOB_ATTEMPTS: 'many' })).toThrow(/MAX_JOB_ATTEMPTS must be a positive integer/);
  });

  it('merges partial nested settings and normalises the base URL', () => {
    const c = resolveConfig({ ...tokens, rateLimit: { requestsPerWindow: 5 }, quotas: { datasets: 3 }, publicBaseUrl: 'https://api.example.com/' });
    expect(c.rateLimit).toEqual({ requestsPerWindow: 5, windowMs: 60_000, authFailuresPerWindow: 30 });
    expect(c.quotas.datasets).toBe(3);
    expect(c.quotas.images).toBe(20000);
    expect(c.publicBaseUrl).toBe('https://api.example.com');
  });

  it('lists every problem', () => {
    let err: unknown;
    try {
      resolveConfig({
        adminToken: 'short',
        workerToken: 'has spaces in the token',
        maxJsonBytes: 0,
        rateLimit: { requestsPerWindow: 1.5, windowMs: -1 },
        quotas: { datasets: 0 },
        publicBaseUrl: 'ftp://x',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    for (const what of ['adminToken', 'workerToken', 'maxJsonBytes', 'rateLimit.requestsPerWindow', 'rateLimit.windowMs', 'quotas.datasets', 'publicBaseUrl']) {
      expect(problems).toContain(what);
    }
  });

  it('refuses equal admin and worker tokens', () => {
    expect(() => resolveConfig({ adminToken: 'x'.repeat(20), workerToken: 'x'.repeat(20) })).toThrow(/must differ/);
  });

  it('INFERENCE_TOKEN: the token sent to the inference service, by default the worker token; never the admin token', () => {
    const env = { ADMIN_TOKEN: tokens.adminToken, WORKER_TOKEN: tokens.workerToken };
    expect(configFromEnv(env).inferenceToken).toBe(tokens.workerToken);
    expect(configFromEnv({ ...env, INFERENCE_TOKEN: 'i'.repeat(20) }).inferenceToken).toBe('i'.repeat(20));
    expect(() => configFromEnv({ ...env, INFERENCE_TOKEN: tokens.adminToken })).toThrow(/adminToken and inferenceToken must differ/);
    expect(() => configFromEnv({ ...env, INFERENCE_TOKEN: 'short' })).toThrow(/inferenceToken must be a string of at least/);
  });
});

describe('configFromEnv', () => {
  it('reads the variables', () => {
    const c = configFromEnv({
      ADMIN_TOKEN: tokens.adminToken,
      WORKER_TOKEN: tokens.workerToken,
      LOCAL_MODE: 'true',
      MAX_JSON_BYTES: '2048',
      RATE_LIMIT_REQUESTS: '10',
      RATE_LIMIT_WINDOW_MS: '1000',
      AUTH_FAILURE_LIMIT: '4',
      CLIENT_IP_HEADER: 'X-Real-IP',
      QUOTA_IMAGES: '7',
      PUBLIC_BASE_URL: 'http://localhost:8787',
    });
    expect(c.localMode).toBe(true);
    expect(c.maxJsonBytes).toBe(2048);
    expect(c.rateLimit).toEqual({ requestsPerWindow: 10, windowMs: 1000, authFailuresPerWindow: 4, clientIpHeader: 'X-Real-IP' });
    expect(c.quotas.images).toBe(7);
    expect(c.quotas.datasets).toBe(50);
    expect(c.publicBaseUrl).toBe('http://localhost:8787');
  });

  it('overrides win; bad values are named', () => {
    expect(configFromEnv({ ADMIN_TOKEN: 'x' }, tokens).adminToken).toBe(tokens.adminToken);
    expect(() => configFromEnv({ ...{ ADMIN_TOKEN: tokens.adminToken, WORKER_TOKEN: tokens.workerToken }, MAX_JSON_BYTES: '1MB' })).toThrow(/MAX_JSON_BYTES/);
    expect(() => configFromEnv({ ADMIN_TOKEN: tokens.adminToken, WORKER_TOKEN: tokens.workerToken, LOCAL_MODE: 'maybe' })).toThrow(/LOCAL_MODE/);
    expect(() => configFromEnv({})).toThrow(/adminToken/);
  });
});
