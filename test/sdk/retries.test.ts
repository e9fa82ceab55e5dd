// The SDK's retries against real servers: a Node edge (SQLite, real HTTP) with a tiny rate limit, whose 429s the
// client waits out for exactly the Retry-After it was given (measured by an injected sleep, not the clock); a server
// that does not answer in time (APITimeoutError after the retries); a port nobody listens on (APIConnectionError);
// an abort; an Idempotency-Key still in flight on the server (409 + Retry-After) waited out, the retry answered with the
// first attempt's result. Plus the retry arithmetic: Retry-After as seconds or as an HTTP date, backoff bounds.
import { mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APIConnectionError, APITimeoutError, APIUserAbortError, CoCoOp, type ClientOptions, RateLimitError } from '../../sdk/src/index.ts';
import { MAX_BACKOFF_MS, backoffMs, parseRetryAfter, retryDelayMs } from '../../sdk/src/core/retry.ts';
import { startEdge } from '../../edge/node/server.ts';
import { encodePng } from '../../lab/toyworld/png.ts';
import { toyImageSet } from '../../lab/toyworld/image-sets.ts';
import { S3BlobStore } from '../../shared/storage/s3-blob-store.ts';
import { ADMIN_TOKEN, type TestEdge, WORKER_TOKEN, startTestEdge, testBlobStore } from '../helpers/edge.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { s3Config } from '../helpers/s3rver.ts';
import { freePort } from '../helpers/processes.ts';
import { waitUntil } from '../helpers/wait-until.ts';
import { type WebhookReceiver, startReceiver } from '../helpers/webhook-receiver.ts';

const clock = new ManualClock();
let edge: TestEdge;
let slow: WebhookReceiver;
const held: ServerResponse[] = [];

beforeAll(async () => {
  // One request per API key per 2-second window, of a clock the client's waits move (no real waiting).
  edge = await startTestEdge({ rateLimit: { requestsPerWindow: 1, windowMs: 2000 }, clock: clock.now });
  // A server that takes 5 s to answer anything.
  slow = await startReceiver();
  slow.on('/v1/me', (_req, res) => {
    held.push(res);
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'), 5000).unref();
  });
});

afterAll(async () => {
  for (const res of held) res.destroy();
  await slow?.close();
  await edge?.close();
});

/** Records every response status and Retry-After, and every wait the client asks for (then moves the edge's clock by it). */
function observed() {
  const responses: { status: number; retryAfter: string | null }[] = [];
  const sleeps: number[] = [];
  const options: Pick<ClientOptions, 'fetch' | 'sleep'> = {
    fetch: async (input, init) => {
      const res = await fetch(input, init);
      responses.push({ status: res.status, retryAfter: res.headers.get('retry-after') });
      return res;
    },
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.advance(ms);
    },
  };
  return { responses, sleeps, options };
}

describe('429 rate_limited', () => {
  it('is retried after exactly the Retry-After the edge sent, and the calls succeed', async () => {
    const { api_key } = await edge.createTenant('rate limited');
    const { responses, sleeps, options } = observed();
    const client = new CoCoOp({ baseURL: edge.url, apiKey: api_key, ...options });
    // Three calls in a row with room for one per window: at least one meets a 429.
    for (let i = 0; i < 3; i++) expect((await client.tenant.retrieve()).name).toBe('rate limited');
    const limited = responses.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expect(responses).toHaveLength(3 + limited.length);
    // Each 429 was followed by one wait of its Retry-After, then the same call again.
    expect(sleeps).toEqual(limited.map((r) => Number(r.retryAfter) * 1000));
    expect(sleeps.every((ms) => ms >= 1000 && ms <= 2000)).toBe(true);
    expect(responses.map((r) => r.status).filter((s) => s !== 429)).toEqual([200, 200, 200]);
  }, 30_000);

  it('with maxRetries 0 it is thrown as a RateLimitError carrying the code and the Retry-After header', async () => {
    const { api_key } = await edge.createTenant('no retries');
    const { responses, sleeps, options } = observed();
    const client = new CoCoOp({ baseURL: edge.url, apiKey: api_key, maxRetries: 0, ...options });
    let err: unknown;
    for (let i = 0; i < 3 && err === undefined; i++) err = await client.tenant.retrieve().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(Number((err as RateLimitError).headers!.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(sleeps).toEqual([]);
    expect(responses.at(-1)!.status).toBe(429);
  });
});

describe('no answer', () => {
  it('an attempt over the timeout is an APITimeoutError once every retry timed out too', async () => {
    const sleeps: number[] = [];
    const client = new CoCoOp({ baseURL: slow.url, apiKey: 'k', timeout: 200, maxRetries: 2, sleep: async (ms) => void sleeps.push(ms) });
    const err = await client.tenant.retrieve().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APITimeoutError);
    expect(err).toBeInstanceOf(APIConnectionError);
    expect(slow.at('/v1/me')).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it('a refused connection is an APIConnectionError after maxRetries + 1 attempts with growing backoff', async () => {
    const port = await freePort();
    const sleeps: number[] = [];
    const client = new CoCoOp({ baseURL: `http://127.0.0.1:${port}`, apiKey: 'k', maxRetries: 3, sleep: async (ms) => void sleeps.push(ms) });
    const err = await client.datasets.list().page().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIConnectionError);
    expect(err).not.toBeInstanceOf(APITimeoutError);
    expect((err as APIConnectionError).status).toBeUndefined();
    expect((err as APIConnectionError).message).toBe('Connection error: fetch failed (ECONNREFUSED)');
    expect(sleeps).toHaveLength(3);
    sleeps.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual(250 * 2 ** i);
      expect(ms).toBeLessThanOrEqual(500 * 2 ** i);
    });
  });

  it('an aborted call rejects with APIUserAbortError and is not retried', async () => {
    const before = slow.at('/v1/me').length;
    const controller = new AbortController();
    const client = new CoCoOp({ baseURL: slow.url, apiKey: 'k', sleep: async () => {} });
    const call = client.tenant.retrieve({ signal: controller.signal });
    await waitUntil('the call to reach the server', () => slow.at('/v1/me').length > before, { intervalMs: 10 });
    controller.abort();
    await expect(call).rejects.toBeInstanceOf(APIUserAbortError);
    expect(slow.at('/v1/me')).toHaveLength(before + 1);
  });
});

/**
 * The real S3 store whose put() waits until open() is called: a request that stores an image stays in flight until
 * then. A fault injector (s3rver cannot be told to hold one write), the rest is the real store.
 */
class GatedBlobStore extends S3BlobStore {
  #open!: () => void;
  readonly opened = new Promise<void>((ok) => (this.#open = ok));
  open(): void {
    this.#open();
  }
  override async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    await this.opened;
    return super.put(key, body, contentType);
  }
}

describe('an Idempotency-Key still in flight', () => {
  it('a timed-out POST is retried with its key; the 409 "still processing" is waited out for its Retry-After; the retry gets the first result', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sdk-inflight-'));
    const store = await testBlobStore();
    const blobs = new GatedBlobStore(s3Config(store.s3.endpoint, store.blobs.bucket));
    const gated = await startEdge({ dataDir, port: 0, config: { adminToken: ADMIN_TOKEN, workerToken: WORKER_TOKEN, logger: { error: () => {}, warn: () => {} } }, blobs, backgroundIntervalMs: 0 });
    try {
      const tenant = await fetch(`${gated.url}/v1/tenants`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: '{"name":"in flight"}' });
      const { api_key } = (await tenant.json()) as { api_key: string };
      const sent: { key: string | null; status: number | 'no answer'; retryAfter: string | null }[] = [];
      const sleeps: number[] = [];
      const imageCount = async () => {
        const res = await fetch(`${gated.url}/v1/datasets/${ds.id}`, { headers: { authorization: `Bearer ${api_key}` } });
        return ((await res.json()) as { image_count: number }).image_count;
      };
      const client = new CoCoOp({
        baseURL: gated.url,
        apiKey: api_key,
        timeout: 500,
        maxRetries: 5, // room for a slow machine where more than one attempt times out
        fetch: async (input, init) => {
          const entry = { key: new Headers(init?.headers).get('idempotency-key'), status: 'no answer' as number | 'no answer', retryAfter: null as string | null };
          if (init?.method === 'POST' && String(input).endsWith('/images')) sent.push(entry);
          const res = await fetch(input, init);
          entry.status = res.status;
          entry.retryAfter = res.headers.get('retry-after');
          return res;
        },
        sleep: async (ms) => {
          sleeps.push(ms);
          if (sent.at(-1)?.status !== 409) return; // the backoff after the timeout: the first attempt is still blocked
          // Told to come back later: let the first attempt finish, and come back once it has.
          blobs.open();
          await waitUntil('the first attempt to store its image', async () => (await imageCount()) > 0, { timeoutMs: 20_000, intervalMs: 20 });
        },
      });
      const ds = await client.datasets.create({ name: 'in flight' });
      const set = await toyImageSet('raster', 'train', 1, ['red square'], 1, 48);
      const images = await client.datasets.uploadImages(ds.id, { label: 'red square', files: [new Uint8Array(await encodePng(set.images[0]!))] });

      // Typically: no answer, 409, 201.
      const statuses = sent.map((s) => s.status);
      expect(statuses[0]).toBe('no answer');
      expect(statuses.slice(-2)).toEqual([409, 201]);
      expect(new Set(sent.map((s) => s.key)).size).toBe(1);
      expect(sleeps.at(-1)).toBe(Number(sent.at(-2)!.retryAfter) * 1000);
      expect(sleeps.at(-1)).toBeGreaterThan(1000);
      expect(images).toHaveLength(1);
      const stored = await client.datasets.retrieve(ds.id);
      expect(stored.image_count).toBe(1);
    } finally {
      blobs.open();
      await gated.close();
      rmSync(dataDir, { recursive: true, force: true });
      await store.release();
    }
  }, 30_000);
});

describe('retry arithmetic', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  it('Retry-After is read as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Mon, 31 Dec 2029 23:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('the wait is the Retry-After when given (none over 60 s), else exponential backoff with jitter', () => {
    const limited = (retryAfter: string) => new RateLimitError({ status: 429, message: 'x', headers: new Headers({ 'retry-after': retryAfter }) });
    expect(retryDelayMs(limited('2'), 0, now)).toBe(2000);
    expect(retryDelayMs(limited('Tue, 01 Jan 2030 00:00:30 GMT'), 1, now)).toBe(30_000);
    expect(retryDelayMs(limited('61'), 0, now)).toBeUndefined();
    expect(retryDelayMs(new APIConnectionError(), 2, now, () => 1)).toBe(2000);
    expect([backoffMs(0, () => 0), backoffMs(0, () => 1)]).toEqual([250, 500]);
    expect([backoffMs(10, () => 0), backoffMs(10, () => 1)]).toEqual([MAX_BACKOFF_MS / 2, MAX_BACKOFF_MS]);
  });
});
