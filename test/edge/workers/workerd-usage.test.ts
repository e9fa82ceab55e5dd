// Usage metering and per-tenant limits in the Workers build inside workerd (`wrangler dev`, local mode, D1): classify
// and text embeddings through the real inference server (bundled toy CLIP) are counted by their D1 upserts, an
// evaluation's running time by the batch of its final transition, the stored bytes by the cron's snapshot; GET
// /v1/usage must report what the test did. PATCH /v1/tenants/{id} is applied through D1 (json_patch) to the quota
// checks, and a request-limit override is served by a RATE_LIMITER_<limit> binding tier (one added here with a
// small limit).
import { resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningInferenceServer, startInferenceServer } from '../../../gpu-worker/serve/main.ts';
import { halfRightScores } from '../../helpers/evaluation-scores.ts';
import { type RunningS3rver, s3Config, startS3rver } from '../../helpers/s3rver.ts';
import { S3BlobStore } from '../../../shared/storage/s3-blob-store.ts';
import { type WranglerDev, startWranglerDev, WORKERD_ADMIN, WORKERD_WORKER, edgeVars } from '../../helpers/wrangler-dev.ts';
import { waitUntil } from '../../helpers/wait-until.ts';

const ADMIN = WORKERD_ADMIN;
const WORKER = WORKERD_WORKER;
/** The limit of the tier binding this test adds to wrangler.toml. */
const TIER = 3;
const DAY_MS = 86_400_000;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

let s3: RunningS3rver;
let inference: RunningInferenceServer;
let dev: WranglerDev;

beforeAll(async () => {
  s3 = await startS3rver();
  inference = await startInferenceServer({
    modelDir: resolve(process.cwd(), 'models/toy-clip'),
    workerToken: WORKER,
    blobs: new S3BlobStore(s3Config(s3.endpoint, s3.bucket)), // the bucket the Worker writes to
    port: 0,
    ort: { provider: 'cpu', log: () => {} },
  });
  dev = await startWranglerDev({
    vars: edgeVars(s3, { INFERENCE_URL: inference.url }),
    testScheduled: true,
    editConfig: (toml) => `${toml}\n[[ratelimits]]\nname = "RATE_LIMITER_${TIER}"\nnamespace_id = "1099"\nsimple = { limit = ${TIER}, period = 60 }\n`,
  });
}, 120_000);

afterAll(async () => {
  await dev?.stop();
  await inference?.close();
  await s3?.stop();
});

const f = (path: string, init?: RequestInit) => fetch(dev.base.replace(/\/+$/, '') + path, init);
const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const json = (token: string) => ({ ...auth(token), 'content-type': 'application/json' });
const post = (token: string, path: string, body: unknown) => f(path, { method: 'POST', headers: json(token), body: JSON.stringify(body) });
const patch = (id: string, body: unknown) => f(`/v1/tenants/${id}`, { method: 'PATCH', headers: json(ADMIN), body: JSON.stringify(body) });

async function ok<T>(res: Promise<Response> | Response, status = 200): Promise<T> {
  const r = await res;
  const text = await r.text();
  expect(r.status, text.slice(0, 300)).toBe(status);
  return JSON.parse(text) as T;
}

const png = async (r: number) =>
  new Uint8Array(await sharp({ create: { width: 24, height: 24, channels: 3, background: { r, g: 90, b: 160 } } }).png().toBuffer());

function form(label: string, files: Uint8Array[]): FormData {
  const fd = new FormData();
  fd.append('label', label);
  for (const [i, bytes] of files.entries()) fd.append('file', new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/png' }), `${label}${i}.png`);
  return fd;
}

describe('usage and per-tenant limits in workerd (D1)', () => {
  it('a datasets override is enforced; classify, embeddings, an evaluation and the storage snapshot are counted through D1', async () => {
    const t = await ok<{ id: string; api_key: string }>(post(ADMIN, '/v1/tenants', { name: 'Metered on Workers' }), 201);
    const key = t.api_key;

    await ok(patch(t.id, { quotas: { datasets: 1 } }));
    expect((await ok<{ quotas: { datasets: number } }>(f('/v1/me', { headers: auth(key) }))).quotas.datasets).toBe(1);
    const ds = await ok<{ id: string }>(post(key, '/v1/datasets', { name: 'shapes', classes: ['cat', 'dog'] }), 201);
    expect((await post(key, '/v1/datasets', { name: 'one too many' })).status).toBe(409);

    let storedBytes = 0;
    const pngs: Uint8Array[] = [];
    for (const [label, shade] of [['cat', 10], ['dog', 200]] as const) {
      const files = [await png(shade), await png(shade + 30)];
      pngs.push(...files);
      storedBytes += files.reduce((s, b) => s + b.byteLength, 0);
      await ok(f(`/v1/datasets/${ds.id}/images`, { method: 'POST', headers: auth(key), body: form(label, files) }), 201);
    }
    await ok(f(`/v1/datasets/${ds.id}/finalize`, { method: 'POST', headers: auth(key) }));

    // Classify through the real inference server: N calls with M images; a refused call counts nothing.
    const b64 = pngs.map((b) => Buffer.from(b).toString('base64'));
    const labels = ['cat', 'dog', 'bird'];
    await ok(post(key, '/v1/classify', { model: 'zero-shot', image: b64[0], labels }));
    await ok(post(key, '/v1/classify', { model: 'zero-shot', images: b64.slice(1, 4), labels }));
    const [n, m] = [2, 4];
    expect((await post(key, '/v1/classify', { model: 'zero-shot', image: 'not base64!', labels })).status).toBe(422);
    const texts = ['a photo of a cat', 'a photo of a dog'];
    await ok(post(key, '/v1/embeddings/text', { texts }));

    // A zero-shot evaluation, run through the internal worker API.
    const ev = await ok<{ id: string }>(post(key, '/v1/evaluations', { model: 'zero-shot', dataset_id: ds.id }), 202);
    const lease = await ok<{ kind: string; lease_id: string }>(post(WORKER, '/internal/v1/leases', { worker_id: 'usage-test' }));
    expect(lease.kind).toBe('evaluation');
    const result = halfRightScores();
    await ok(post(WORKER, `/internal/v1/jobs/${ev.id}/result`, { lease_id: lease.lease_id, result }));
    expect((await post(WORKER, `/internal/v1/jobs/${ev.id}/result`, { lease_id: lease.lease_id, result })).status).toBe(409);
    const done = await ok<{ status: string; started_at: string; finished_at: string }>(f(`/v1/evaluations/${ev.id}`, { headers: auth(key) }));
    expect(done.status).toBe('succeeded');

    // The cron's storage snapshot. /__scheduled answers at once and the cron's work goes on in waitUntil (the
    // bucket reconciliation and the other tasks run before the snapshot), so wait for the snapshot's row to appear.
    expect((await f('/__scheduled?cron=*+*+*+*+*')).status).toBe(200);
    expect((await ok<{ usage: { bytes: number } }>(f('/v1/me', { headers: auth(key) }))).usage.bytes).toBe(storedBytes);

    const now = Date.now();
    type Report = { totals: Record<string, unknown>; data: { date: string; storage_bytes: number | null }[] };
    const report = await waitUntil('the cron to write the storage snapshot', async () => {
      const r = await ok<Report>(f(`/v1/usage?from=${day(now - DAY_MS)}&to=${day(now + DAY_MS)}`, { headers: auth(key) }));
      return r.data.some((d) => d.storage_bytes !== null) ? r : null;
    });
    expect(report.totals).toEqual({
      classify_requests: n,
      classify_images: m,
      embedding_texts: texts.length,
      training_seconds: { cocoop: 0, coop: 0 },
      evaluation_seconds: { cocoop: 0, coop: 0, 'zero-shot': (Date.parse(done.finished_at) - Date.parse(done.started_at)) / 1000 },
      storage_byte_days: storedBytes,
    });
    expect(report.data.filter((d) => d.storage_bytes !== null).map((d) => d.storage_bytes)).toEqual([storedBytes]);
    // The PATCH was audited in the same D1 batch.
    const audit = await ok<{ data: { action: string; data?: unknown }[] }>(f('/v1/audit-events', { headers: auth(key) }));
    expect(audit.data.find((e) => e.action === 'tenant.limits_updated')?.data).toEqual({ 'quotas.datasets': 1 });
  }, 120_000);

  it('a request-limit override is counted by the binding tier with that limit; other tenants keep the default binding', async () => {
    const slow = await ok<{ id: string; api_key: string }>(post(ADMIN, '/v1/tenants', { name: 'Tier' }), 201);
    const other = await ok<{ id: string; api_key: string }>(post(ADMIN, '/v1/tenants', { name: 'Default' }), 201);
    const limits = await ok<{ rate_limit: { requests_per_window: number; window_seconds: number } }>(
      patch(slow.id, { rate_limit: { requests_per_window: TIER + 1 } }),
    );
    // TIER + 1 lies between the tiers 3 and 60: the largest tier not above it serves it, and the answer says so.
    expect(limits.rate_limit).toEqual({ requests_per_window: TIER, window_seconds: 60 });
    const statuses: number[] = [];
    let refused = false;
    for (let i = 0; i < 2 * TIER + 1 && !refused; i++) {
      const res = await f('/v1/datasets', { headers: auth(slow.api_key) });
      statuses.push(res.status);
      refused = res.status === 429;
    }
    expect(refused, statuses.join()).toBe(true);
    expect(statuses.length).toBeGreaterThan(TIER);
    for (let i = 0; i < 2 * TIER + 1; i++) expect((await f('/v1/datasets', { headers: auth(other.api_key) })).status).toBe(200);
  }, 60_000);
});
