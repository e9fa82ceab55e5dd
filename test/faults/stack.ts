// Shared by the fault tests (test/faults/*.test.ts): a real stack in this process — s3rver on disk (can go
// down and come back, test/helpers/s3rver.ts), the edge on Node with SQLite and the real S3 blob store, its
// background timer sending webhooks to a real loopback receiver — that can be stopped and started again on
// the same port with the same SQLite directory; plus API helpers (toy-world datasets uploaded multipart,
// jobs, verified webhook deliveries) and an in-process Trainer on the bundled toy CLIP.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll } from 'vitest';
import type { EdgeConfigInput } from '../../edge/config.ts';
import { type RunningEdge, startEdge } from '../../edge/node/server.ts';
import type { S3BlobStore } from '../../shared/storage/s3-blob-store.ts';
import type { WebhookSettings } from '../../edge/webhooks/settings.ts';
import type { ClipModel } from '../../gpu-worker/clip/model.ts';
import type { OrtClipEncoders } from '../../gpu-worker/clip/ort-encoders.ts';
import type { RunJobHooks } from '../../gpu-worker/trainer/run-job.ts';
import type { Trainer } from '../../gpu-worker/trainer/trainer.ts';
import { toyImageSet } from '../../lab/toyworld/image-sets.ts';
import { encodePng } from '../../lab/toyworld/png.ts';
import { ADMIN_TOKEN, WORKER_TOKEN } from '../helpers/edge.ts';
import { type RunningS3rver, s3Config, startS3rver } from '../helpers/s3rver.ts';
import { waitUntil } from '../helpers/wait-until.ts';
import { type WebhookReceiver, startReceiver } from '../helpers/webhook-receiver.ts';
import { testTrainer } from '../helpers/jobs.ts';
import { apiCall } from '../../scripts/lib/api-call.ts';

export { ADMIN_TOKEN, WORKER_TOKEN };

export interface FaultStackOptions {
  config?: Partial<EdgeConfigInput>;
  webhooks?: Partial<WebhookSettings>;
}

export interface FaultStack {
  s3: RunningS3rver;
  /** The running edge (replaced by restartEdge). */
  edge: RunningEdge;
  /** Stable across edge restarts. */
  url: string;
  dataDir: string;
  receiver: WebhookReceiver;
  /** The edge's S3 store (the worker uses it too). */
  blobs(): S3BlobStore;
  /** Edge process gone: the port refuses connections until startEdge(). */
  stopEdge(): Promise<void>;
  /** The edge again on the same port with the same SQLite directory. */
  startEdge(): Promise<void>;
  /** Lines the edge logged as errors. */
  edgeErrors: string[];
  close(): Promise<void>;
}

export async function startFaultStack(opts: FaultStackOptions = {}): Promise<FaultStack> {
  const s3 = await startS3rver();
  const receiver = await startReceiver();
  const dataDir = mkdtempSync(join(tmpdir(), 'faults-edge-'));
  const edgeErrors: string[] = [];
  let port = 0;
  let edge: RunningEdge | null = null;
  const start = async () => {
    edge = await startEdge({
      dataDir,
      port,
      config: {
        adminToken: ADMIN_TOKEN,
        workerToken: WORKER_TOKEN,
        localMode: true, // loopback webhook receivers
        logger: { error: (m, d) => edgeErrors.push(`${m} ${d instanceof Error ? d.message : String(d ?? '')}`), warn: () => {} },
        ...opts.config,
      },
      s3: s3Config(s3.endpoint, s3.bucket),
      backgroundIntervalMs: 100,
      webhooks: { retryScheduleSeconds: [0.2, 0.2, 0.2, 0.2, 0.2, 0.2], timeoutMs: 2000, ...opts.webhooks },
    });
    port = Number(new URL(edge.url).port);
  };
  await start();
  const stack: FaultStack = {
    s3,
    get edge() {
      if (!edge) throw new Error('the edge is stopped');
      return edge;
    },
    url: edge!.url,
    dataDir,
    receiver,
    blobs: () => stack.edge.ports.blobs as S3BlobStore,
    async stopEdge() {
      const e = edge;
      edge = null;
      await e?.close();
    },
    async startEdge() {
      if (!edge) await start();
    },
    edgeErrors,
    async close() {
      await stack.stopEdge();
      await receiver.close();
      await s3.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return stack;
}

// ---- public API helpers ---------------------------------------------------------------------------

export interface Job {
  id: string;
  status: string;
  model_id: string | null;
  error: { code: string; message: string } | null;
  progress: { epoch: number };
}

/** The public API with a tenant key (scripts/lib/api-call.ts). */
export const api = apiCall;

/** Toy-world PNGs, `perClass` per class. */
export async function toyPngs(classes: string[], perClass: number, seed = 7): Promise<{ label: string; bytes: Uint8Array }[]> {
  const set = await toyImageSet('raster', 'train', seed, classes, perClass, 48);
  return Promise.all(set.images.map(async (img, i) => ({ label: set.classNames[set.labels[i]!]!, bytes: new Uint8Array(await encodePng(img)) })));
}

/** One multipart upload request: every file of `label` in `pngs`. */
export function uploadForm(pngs: { label: string; bytes: Uint8Array }[], label: string): FormData {
  const fd = new FormData();
  fd.append('label', label);
  pngs.filter((p) => p.label === label).forEach((p, i) => fd.append('file', new Blob([new Uint8Array(p.bytes)], { type: 'image/png' }), `${i}.png`));
  return fd;
}

export interface Tenant {
  key: string;
  tenantId: string;
  endpointId: string;
  secret: string;
  hookPath: string;
}

/** A tenant with a webhook endpoint at the stack's receiver (path `hookPath`). */
export async function tenantWithHook(stack: FaultStack, hookPath: string): Promise<Tenant> {
  const t = await api<{ id: string; api_key: string }>(stack.url, ADMIN_TOKEN, 'POST', '/v1/tenants', { name: `faults ${hookPath}` }, 201);
  const ep = await api<{ id: string; secret: string }>(stack.url, t.api_key, 'POST', '/v1/webhook-endpoints', { url: stack.receiver.url + hookPath }, 201);
  return { key: t.api_key, tenantId: t.id, endpointId: ep.id, secret: ep.secret, hookPath };
}

/** A ready dataset of `pngs`, uploaded one multipart request per class. */
export async function readyDataset(stack: FaultStack, key: string, pngs: { label: string; bytes: Uint8Array }[]): Promise<string> {
  const ds = await api<{ id: string }>(stack.url, key, 'POST', '/v1/datasets', { name: 'shapes' }, 201);
  for (const label of new Set(pngs.map((p) => p.label))) await api(stack.url, key, 'POST', `/v1/datasets/${ds.id}/images`, uploadForm(pngs, label), 201);
  await api(stack.url, key, 'POST', `/v1/datasets/${ds.id}/finalize`, undefined, 200);
  return ds.id;
}

export const createJob = (stack: FaultStack, key: string, datasetId: string, epochs: number) =>
  api<Job>(stack.url, key, 'POST', '/v1/training-jobs', { dataset_id: datasetId, method: 'cocoop', hyperparameters: { epochs, shots: 2, seed: 3 } }, 201);

/**
 * The shared waitUntil, polled every 100 ms, except that an error thrown by `fn` counts as "not yet" (e.g. the edge
 * is down right now) instead of ending the wait; the last such error is shown with `context` if the deadline passes.
 */
export function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs: number, context: () => string = () => ''): Promise<T> {
  let lastError = '';
  const tolerant = async () => {
    try {
      return await fn();
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
      return undefined;
    }
  };
  const fullContext = () => [context(), lastError && `last error from the check: ${lastError}`].filter(Boolean).join('\n');
  return waitUntil(what, tolerant, { timeoutMs, intervalMs: 100, context: fullContext });
}

export const FINAL = ['succeeded', 'failed', 'cancelled'];

export const finalJob = (stack: FaultStack, key: string, id: string, timeoutMs: number, context?: () => string) =>
  waitFor(`job ${id} to finish`, async () => {
    const j = await api<Job>(stack.url, key, 'GET', `/v1/training-jobs/${id}`);
    return FINAL.includes(j.status) && j;
  }, timeoutMs, context);

/** Every request the receiver got at the tenant's hook path, verified with the endpoint's secret. */
export function verifiedDeliveries(stack: FaultStack, t: Tenant): { type: string; data: { id: string; status: string }; webhookId: string }[] {
  const wh = new Webhook(t.secret);
  return stack.receiver.at(t.hookPath).map((r) => {
    const h = (n: string) => String(r.headers[n] ?? '');
    const payload = wh.verify(r.body, { 'webhook-id': h('webhook-id'), 'webhook-timestamp': h('webhook-timestamp'), 'webhook-signature': h('webhook-signature') }) as {
      type: string;
      data: { id: string; status: string };
    };
    return { ...payload, webhookId: h('webhook-id') };
  });
}

/** The endpoint's deliveries through the public API, once none is pending (every retry has run). */
export async function settledDeliveries(stack: FaultStack, t: Tenant, timeoutMs = 20_000) {
  return waitFor('every delivery to settle', async () => {
    const { data } = await api<{ data: { id: string; event_type: string; status: string; attempts: number }[] }>(
      stack.url,
      t.key,
      'GET',
      `/v1/webhook-endpoints/${t.endpointId}/deliveries`,
    );
    return data.length > 0 && data.every((d) => d.status !== 'pending') && data;
  }, timeoutMs);
}

// ---- the in-process worker -------------------------------------------------------------------------

let shared: { model: ClipModel; encoders: OrtClipEncoders } | null = null;

/** The bundled toy CLIP and its ORT encoders, loaded once per test file; release with releaseModel(). */
export async function toyModel(): Promise<{ model: ClipModel; encoders: OrtClipEncoders }> {
  if (!shared) {
    const { loadClipModel } = await import('../../gpu-worker/clip/model.ts');
    const { OrtClipEncoders } = await import('../../gpu-worker/clip/ort-encoders.ts');
    const model = loadClipModel(resolve('models/toy-clip'));
    shared = { model, encoders: new OrtClipEncoders(model, { log: () => {} }) };
  }
  return shared;
}

export async function releaseModel(): Promise<void> {
  await shared?.encoders.release();
  shared = null;
}

export async function inProcessWorker(
  stack: FaultStack,
  workDir: string,
  workerId: string,
  logs: string[],
  extra: { hooks?: RunJobHooks; leaseSeconds?: number; sharedWorkDir?: boolean } = {},
): Promise<Trainer> {
  const { model, encoders } = await toyModel();
  return testTrainer({ edgeUrl: stack.url, blobs: stack.blobs(), model, encoders, workDir, logs }, workerId, { ...extra, clientTimeoutMs: 5000 });
}

/** What an in-process fault test file works with (set in its beforeAll). */
export interface InProcessFixture {
  stack: FaultStack;
  /** Scratch space for the in-process workers. */
  workDir: string;
  pngs: { label: string; bytes: Uint8Array }[];
}

/**
 * Registers the file's beforeAll/afterAll: a fault stack, a scratch dir (`prefix`), `perClass` toy PNGs of `classes`
 * and the loaded toy model; everything is torn down after the file.
 */
export function useInProcessFixture(prefix: string, classes: string[], perClass: number): InProcessFixture {
  const fx = { workDir: '', pngs: [] } as unknown as InProcessFixture;
  beforeAll(async () => {
    fx.stack = await startFaultStack();
    fx.workDir = mkdtempSync(join(tmpdir(), prefix));
    fx.pngs = await toyPngs(classes, perClass);
    await toyModel();
  }, 60_000);
  afterAll(async () => {
    await releaseModel();
    await fx.stack?.close();
    if (fx.workDir) rmSync(fx.workDir, { recursive: true, force: true });
  });
  return fx;
}
