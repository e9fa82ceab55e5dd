// Tenant isolation over every tenant resource route of the app, table-driven, against the edge under test
// (test/helpers/edge-under-test.ts): on Node with SQLite (test/edge/isolation-matrix.test.ts) and as the Workers build
// inside workerd with local D1 (test/edge/workers/isolation-matrix.test.ts), the same matrix on both. Tenant A creates
// one of each resource for real (a ready dataset with an image uploaded through the API into s3rver, a job completed
// through the internal worker API with its artifact in s3rver, a webhook endpoint, an extra API key); tenant B then
// calls every route with A's ids: each answer is 404 not_found, and afterwards every table (except B's own rate-limit
// counter) and every S3 object is exactly as before, and the edge logged no error.
//
// The routes come from GET /openapi.json: a route with a path id (or an id in its body) that has no
// matrix entry fails the test, as does one without ids that is not on the allow-list below.
//
// A's job completion queues a webhook delivery to A's endpoint (a receiver on loopback). On Node the background timer
// is off and the row stays pending; on workerd the Queues consumer delivers it, so the snapshot is taken once the row
// is final (succeeded), and nothing is left in flight during the matrix.
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, jsonHeaders } from '../../helpers/edge.ts';
import { type EdgeUnderTest, type Runtime, startEdgeUnderTest } from '../../helpers/edge-under-test.ts';
import type { LeaseBody } from '../../helpers/jobs.ts';
import { type RunningS3rver, startS3rver } from '../../helpers/s3rver.ts';
import { waitUntil } from '../../helpers/wait-until.ts';
import { type WebhookReceiver, startReceiver } from '../../helpers/webhook-receiver.ts';

/** Routes that take no id of an existing resource (lists, creates, self, system, worker-internal). */
export const NO_ID_ROUTES = new Set([
  'GET /healthz',
  'GET /openapi.json',
  'GET /docs',
  'POST /v1/tenants',
  'GET /v1/me',
  'GET /v1/usage',
  'POST /v1/api-keys',
  'GET /v1/datasets',
  'POST /v1/datasets',
  'GET /v1/training-jobs',
  'GET /v1/evaluations',
  'GET /v1/models',
  'GET /v1/webhook-endpoints',
  'POST /v1/webhook-endpoints',
  'GET /v1/api-keys',
  'GET /v1/audit-events',
  'GET /v1/workers',
  'POST /v1/workers',
  'GET /metrics',
  'GET /metrics.json',
  'GET /metrics/queue',
]);
const isInternal = (path: string) => path.startsWith('/internal/');

interface Ids {
  tenant: string;
  workerToken: string;
  keyId: string;
  dataset: string;
  image: string;
  job: string;
  model: string;
  endpoint: string;
  delivery: string;
  evaluation: string;
}

interface Call {
  path: string;
  body?: unknown;
  form?: () => Promise<FormData>;
}

let png: Buffer;
const imageForm = async () => {
  const f = new FormData();
  f.append('label', 'cat');
  f.append('file', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'x.png');
  return f;
};

/** One entry per tenant route that takes an id ("METHOD /openapi/path" → the call B makes with A's ids). */
export const MATRIX: Record<string, (a: Ids) => Call> = {
  'DELETE /v1/api-keys/{id}': (a) => ({ path: `/v1/api-keys/${a.keyId}` }),
  'GET /v1/datasets/{id}': (a) => ({ path: `/v1/datasets/${a.dataset}` }),
  'DELETE /v1/datasets/{id}': (a) => ({ path: `/v1/datasets/${a.dataset}` }),
  'POST /v1/datasets/{id}/images': (a) => ({ path: `/v1/datasets/${a.dataset}/images`, form: imageForm }),
  'POST /v1/datasets/{id}/uploads': (a) => ({
    path: `/v1/datasets/${a.dataset}/uploads`,
    body: { files: [{ label: 'cat', content_type: 'image/png', bytes: 100 }] },
  }),
  'POST /v1/datasets/{id}/uploads/complete': (a) => ({ path: `/v1/datasets/${a.dataset}/uploads/complete`, body: { image_ids: [a.image] } }),
  'POST /v1/datasets/{id}/finalize': (a) => ({ path: `/v1/datasets/${a.dataset}/finalize` }),
  'POST /v1/training-jobs': (a) => ({ path: '/v1/training-jobs', body: { dataset_id: a.dataset, method: 'coop' } }),
  'GET /v1/training-jobs/{id}': (a) => ({ path: `/v1/training-jobs/${a.job}` }),
  'POST /v1/training-jobs/{id}/cancel': (a) => ({ path: `/v1/training-jobs/${a.job}/cancel` }),
  'GET /v1/training-jobs/{id}/events': (a) => ({ path: `/v1/training-jobs/${a.job}/events` }),
  'POST /v1/evaluations': (a) => ({ path: '/v1/evaluations', body: { model: a.model, dataset_id: a.dataset } }),
  'GET /v1/evaluations/{id}': (a) => ({ path: `/v1/evaluations/${a.evaluation}` }),
  'GET /v1/models/{id}': (a) => ({ path: `/v1/models/${a.model}` }),
  'DELETE /v1/models/{id}': (a) => ({ path: `/v1/models/${a.model}` }),
  'GET /v1/models/{id}/artifact': (a) => ({ path: `/v1/models/${a.model}/artifact` }),
  'GET /v1/webhook-endpoints/{id}': (a) => ({ path: `/v1/webhook-endpoints/${a.endpoint}` }),
  'DELETE /v1/webhook-endpoints/{id}': (a) => ({ path: `/v1/webhook-endpoints/${a.endpoint}` }),
  'POST /v1/webhook-endpoints/{id}/rotate-secret': (a) => ({ path: `/v1/webhook-endpoints/${a.endpoint}/rotate-secret` }),
  'GET /v1/webhook-endpoints/{id}/deliveries': (a) => ({ path: `/v1/webhook-endpoints/${a.endpoint}/deliveries` }),
  'PATCH /v1/webhook-endpoints/{id}': (a) => ({ path: `/v1/webhook-endpoints/${a.endpoint}`, body: { enabled: false } }),
  'POST /v1/webhook-endpoints/{id}/test': (a) => ({ path: `/v1/webhook-endpoints/${a.endpoint}/test` }),
  'POST /v1/webhook-deliveries/{id}/resend': (a) => ({ path: `/v1/webhook-deliveries/${a.delivery}/resend` }),
  // Body ids (checked only when these routes exist in the document).
  'POST /v1/classify': (a) => ({ path: '/v1/classify', body: { model: a.model, image: png.toString('base64') } }),
  'POST /v1/embeddings/text': (a) => ({ path: '/v1/embeddings/text', body: { model: a.model, texts: ['a photo of a cat'] } }),
};
const OPTIONAL = new Set(['POST /v1/classify', 'POST /v1/embeddings/text']);

/** Admin routes with an id: a tenant key (B's, with A's ids) is 401 unauthorized there, and nothing changes either. */
export const ADMIN_MATRIX: Record<string, (a: Ids) => Call> = {
  'POST /v1/tenants/{id}/suspend': (a) => ({ path: `/v1/tenants/${a.tenant}/suspend` }),
  'POST /v1/tenants/{id}/unsuspend': (a) => ({ path: `/v1/tenants/${a.tenant}/unsuspend` }),
  'PATCH /v1/tenants/{id}': (a) => ({ path: `/v1/tenants/${a.tenant}` }),
  'DELETE /v1/workers/{id}': (a) => ({ path: `/v1/workers/${a.workerToken}` }),
};

let s3: RunningS3rver;
let rx: WebhookReceiver;
let edge: EdgeUnderTest;
let a: Ids;
let keyA: string;
let keyB: string;
let tenantB: string;

async function ok<T>(res: Response | Promise<Response>, status: number): Promise<T> {
  const r = await res;
  const text = await r.text();
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

/** A's resources, one of each, made through the API (and the worker API for the job). */
async function createTenantA(): Promise<void> {
  const tenant = async (name: string) =>
    ok<{ id: string; api_key: string }>(edge.fetch('/v1/tenants', { method: 'POST', headers: jsonHeaders(edge.adminToken), body: JSON.stringify({ name }) }), 201);
  const [ta, tb] = [await tenant('A'), await tenant('B')];
  keyA = ta.api_key;
  keyB = tb.api_key;
  tenantB = tb.id;
  const workerToken = await ok<{ id: string }>(
    edge.fetch('/v1/workers', { method: 'POST', headers: jsonHeaders(edge.adminToken), body: JSON.stringify({ name: 'matrix' }) }),
    201,
  );
  const post = <T>(path: string, body: unknown, status = 201) =>
    ok<T>(edge.fetch(path, { method: 'POST', headers: jsonHeaders(keyA), body: JSON.stringify(body) }), status);

  const extraKey = await post<{ id: string }>('/v1/api-keys', {});
  const ds = await post<{ id: string }>('/v1/datasets', { name: 'pets', classes: ['cat', 'dog'] });
  const images: { id: string }[] = [];
  for (const label of ['cat', 'dog']) {
    const f = await imageForm();
    f.set('label', label);
    const up = await ok<{ images: { id: string }[] }>(edge.fetch(`/v1/datasets/${ds.id}/images`, { method: 'POST', headers: bearer(keyA), body: f }), 201);
    images.push(...up.images);
  }
  await post(`/v1/datasets/${ds.id}/finalize`, {}, 200);
  const job = await post<{ id: string }>('/v1/training-jobs', { dataset_id: ds.id, method: 'coop' });
  const endpoint = await post<{ id: string }>('/v1/webhook-endpoints', { url: `${rx.url}/hook` });

  // The worker's side: lease, upload the artifact where the lease says, complete.
  const worker = (path: string, body: unknown) => edge.fetch(`/internal/v1${path}`, { method: 'POST', headers: jsonHeaders(edge.workerToken), body: JSON.stringify(body) });
  const lease = await ok<LeaseBody>(worker('/leases', { worker_id: 'w1' }), 200);
  expect(lease.job.id).toBe(job.id);
  const artifact = new TextEncoder().encode('fake safetensors bytes');
  await edge.blobs.put(lease.storage.artifact_key, artifact, 'application/octet-stream');
  await ok(
    worker(`/jobs/${job.id}/complete`, {
      lease_id: lease.lease_id,
      artifact: { key: lease.storage.artifact_key, bytes: artifact.byteLength, sha256: createHash('sha256').update(artifact).digest('hex') },
      base_model: 'toy-clip',
      classes: ['cat', 'dog'],
      metrics: { train_loss: 0.25, train_accuracy: 0.9 },
    }),
    200,
  );
  const jobView = await ok<{ status: string; model_id: string }>(edge.fetch(`/v1/training-jobs/${job.id}`, { headers: bearer(keyA) }), 200);
  expect(jobView.status).toBe('succeeded');
  // The completion wrote a job event and queued a delivery to A's endpoint: those rows are in the snapshot too.
  expect(edge.count('SELECT COUNT(*) AS n FROM job_events WHERE job_id = ?', job.id)).toBeGreaterThan(0);
  expect(edge.count('SELECT COUNT(*) AS n FROM webhook_deliveries WHERE endpoint_id = ?', endpoint.id)).toBe(1);
  if (edge.runtime === 'workerd') {
    await waitUntil(
      "the delivery to A's endpoint to succeed",
      () => edge.count("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE endpoint_id = ? AND status = 'succeeded'", endpoint.id) === 1,
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    expect(rx.at('/hook')).toHaveLength(1);
  }
  const [delivery] = edge.all<{ id: string }>('SELECT id FROM webhook_deliveries WHERE endpoint_id = ?', endpoint.id);
  const evaluation = await post<{ id: string }>('/v1/evaluations', { model: jobView.model_id, dataset_id: ds.id }, 202);
  a = { tenant: ta.id, workerToken: workerToken.id, keyId: extraKey.id, dataset: ds.id, image: images[0].id, job: job.id, model: jobView.model_id, endpoint: endpoint.id, delivery: delivery.id, evaluation: evaluation.id };
}

/**
 * Every table's rows (rate_windows aside: B's own request counter; B's keys without last_used_at, which B's requests
 * set) and every object with a hash of its bytes.
 */
async function snapshot(): Promise<{ tables: Record<string, unknown[]>; objects: Record<string, string> }> {
  const tables: Record<string, unknown[]> = {};
  for (const n of edge.tables().filter((t) => t !== 'rate_windows')) tables[n] = edge.all(`SELECT * FROM "${n}" ORDER BY rowid`);
  tables.api_keys = (tables.api_keys as { tenant_id: string }[]).map((k) => (k.tenant_id === tenantB ? { ...k, last_used_at: null } : k));
  const objects: Record<string, string> = {};
  for (const key of await edge.bucketKeys()) {
    const bytes = await edge.blobs.get(key);
    objects[key] = createHash('sha256').update(bytes ?? new Uint8Array()).digest('hex');
  }
  return { tables, objects };
}

async function documentedRoutes(): Promise<string[]> {
  const doc = await ok<{ paths: Record<string, Record<string, unknown>> }>(edge.fetch('/openapi.json'), 200);
  const methods = ['get', 'post', 'put', 'patch', 'delete'];
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops)
      .filter((m) => methods.includes(m))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );
}

export function isolationMatrixSuite(runtime: Runtime): void {
  beforeAll(async () => {
    png = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 10, g: 100, b: 200 } } }).png().toBuffer();
    [s3, rx] = await Promise.all([startS3rver(), startReceiver()]);
    edge = await startEdgeUnderTest(runtime, { s3, localMode: true });
    await createTenantA();
  }, 120_000);

  afterAll(async () => {
    await edge?.close();
    await Promise.all([s3?.stop(), rx?.close()]);
  });

  describe(`tenant isolation matrix (${runtime})`, () => {
    it('every route with an id has a matrix entry; every other route is allow-listed; no stale entries', async () => {
      const routes = await documentedRoutes();
      expect(routes.length).toBeGreaterThan(20);
      const unaccounted = routes.filter((r) => {
        const path = r.slice(r.indexOf(' ') + 1);
        return !(r in MATRIX) && !(r in ADMIN_MATRIX) && !NO_ID_ROUTES.has(r) && !isInternal(path);
      });
      expect(unaccounted, 'add these routes to MATRIX (or NO_ID_ROUTES when they take no id)').toEqual([]);
      const stale = [...Object.keys(MATRIX), ...Object.keys(ADMIN_MATRIX)].filter((r) => !routes.includes(r) && !OPTIONAL.has(r));
      expect(stale, 'matrix entries for routes the app no longer has').toEqual([]);
    });

    it("tenant B gets 404 not_found on every route with tenant A's ids, nothing changes, nothing is logged as an error", async () => {
      const routes = new Set(await documentedRoutes());
      const errorsBefore = (await edge.loggedErrors()).length;
      const before = await snapshot();
      expect(Object.keys(before.objects).length).toBeGreaterThanOrEqual(3); // 2 images + the artifact
      const results: { route: string; status: number; code: unknown }[] = [];
      for (const [route, make] of Object.entries(MATRIX)) {
        if (!routes.has(route)) continue; // optional routes absent from this build
        const method = route.slice(0, route.indexOf(' '));
        const call = make(a);
        const init: RequestInit = { method, headers: bearer(keyB) };
        if (call.form) init.body = await call.form();
        else if (method === 'POST' || method === 'PATCH') {
          init.body = JSON.stringify(call.body ?? {});
          init.headers = jsonHeaders(keyB);
        }
        const res = await edge.fetch(call.path, init);
        const body = (await res.json().catch(() => null)) as { error?: { code?: unknown; message?: unknown } } | null;
        results.push({ route, status: res.status, code: body?.error?.code });
        expect(typeof body?.error?.message, route).toBe('string');
      }
      expect(results).toEqual(results.map((r) => ({ route: r.route, status: 404, code: 'not_found' })));
      const adminResults: typeof results = [];
      for (const [route, make] of Object.entries(ADMIN_MATRIX)) {
        const method = route.slice(0, route.indexOf(' '));
        const res = await edge.fetch(make(a).path, { method, headers: bearer(keyB) });
        const body = (await res.json().catch(() => null)) as { error?: { code?: unknown } } | null;
        adminResults.push({ route, status: res.status, code: body?.error?.code });
      }
      expect(adminResults).toEqual(adminResults.map((r) => ({ route: r.route, status: 401, code: 'unauthorized' })));
      expect((await edge.loggedErrors()).slice(errorsBefore)).toEqual([]);
      expect(await snapshot()).toEqual(before);

      // A still sees everything.
      for (const path of [`/v1/datasets/${a.dataset}`, `/v1/training-jobs/${a.job}`, `/v1/models/${a.model}`, `/v1/webhook-endpoints/${a.endpoint}`]) {
        expect((await edge.fetch(path, { headers: bearer(keyA) })).status, path).toBe(200);
      }
    });
  });
}
