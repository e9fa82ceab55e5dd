// The worker-API contract (shared/contracts/worker-api.ts, shared/contracts/training-job.ts) against a real
// edge, so the edge and the trainer cannot drift apart unnoticed:
//   - what the edge answers over HTTP is exactly what the shared schemas parse: `Schema.parse(raw)` succeeds
//     and deep-equals `raw` (zod drops unknown keys, so a field the edge sends but the contract lacks shows
//     up as a difference; a field the contract requires but the edge omits fails the parse);
//   - every request the contract accepts (full examples, every optional field set) is accepted by the
//     route, and one it rejects is rejected with 422 validation_failed;
//   - /openapi.json documents the worker routes with the components built from the shared schemas
//     (component names from their `.meta({id})`, property names from their shapes).
// The tenant, dataset and jobs are made through the public API, as a customer would.
import { createHash } from 'node:crypto';
import { z as openapiZ } from '@hono/zod-openapi';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Evaluation } from '../../../shared/contracts/evaluation.ts';
import { Hyperparameters, TrainingJob } from '../../../shared/contracts/training-job.ts';
import {
  CancelledRequest,
  CompleteRequest,
  EventRequest,
  FailRequest,
  HeartbeatRequest,
  HeartbeatResponse,
  Lease,
  LeaseImage,
  LeaseRequest,
  ResultRequest,
  TrainingLease,
} from '../../../shared/contracts/worker-api.ts';
import { type TestEdge, WORKER_TOKEN, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';

let edge: TestEdge;
let apiKey: string;
let datasetId: string;
let doc: { paths: Record<string, any>; components: { schemas: Record<string, any> } };

async function png(r: number): Promise<Uint8Array<ArrayBuffer>> {
  return Uint8Array.from(await sharp({ create: { width: 8, height: 8, channels: 3, background: { r, g: 90, b: 160 } } }).png().toBuffer());
}

async function ok<T = any>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

beforeAll(async () => {
  edge = await startTestEdge({ quotas: { concurrent_jobs: 10 } });
  apiKey = (await edge.createTenant('Contract')).api_key;
  const ds = await ok(
    await edge.fetch('/v1/datasets', { method: 'POST', headers: jsonHeaders(apiKey), body: JSON.stringify({ name: 'pets', classes: ['cat', 'dog'] }) }),
    201,
  );
  datasetId = ds.id;
  for (const [label, shade] of [['cat', 10], ['dog', 200]] as const) {
    const form = new FormData();
    form.append('label', label);
    for (const k of [0, 1]) form.append('file', new File([await png(shade + k)], `${label}-${k}.png`, { type: 'image/png' }));
    await ok(await edge.fetch(`/v1/datasets/${datasetId}/images`, { method: 'POST', headers: bearer(apiKey), body: form }), 201);
  }
  await ok(await edge.fetch(`/v1/datasets/${datasetId}/finalize`, { method: 'POST', headers: bearer(apiKey) }));
  doc = await ok(await edge.fetch('/openapi.json'));
});

afterAll(async () => {
  await edge?.close();
});

const worker = (path: string, body: unknown) =>
  edge.fetch(`/internal/v1${path}`, { method: 'POST', headers: jsonHeaders(WORKER_TOKEN), body: JSON.stringify(body) });

/** A queued job made through the public API, with every optional field of the request set. */
async function newJob(): Promise<{ id: string }> {
  return ok(
    await edge.fetch('/v1/training-jobs', {
      method: 'POST',
      headers: jsonHeaders(apiKey),
      body: JSON.stringify({
        dataset_id: datasetId,
        method: 'coop',
        hyperparameters: { epochs: 2, learning_rate: 0.01, batch_size: 2, n_ctx: 4, shots: 2, seed: 7, crop_scale: [0.5, 1] },
        metadata: { project: 'contract' },
      }),
    }),
    201,
  );
}

/** Leases the job just created (the queue is FIFO and every earlier job of this file is leased or final). */
async function leaseOf(job: { id: string }): Promise<TrainingLease> {
  const request: LeaseRequest = { worker_id: 'gpu-01#4242', lease_seconds: 600 };
  expect(LeaseRequest.parse(request)).toEqual(request);
  const raw = await ok(await worker('/leases', request));
  expect(raw.kind).toBe('training');
  expect(raw.job.id).toBe(job.id);
  return raw as TrainingLease;
}

/** `schema` parses the edge's answer, and parsing loses nothing (no field outside the contract). */
function expectContract<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const parsed = schema.safeParse(raw);
  expect(parsed.error?.issues ?? [], JSON.stringify(raw)).toEqual([]);
  expect(parsed.data).toStrictEqual(raw);
  return parsed.data as z.output<S>;
}

describe('one zod', () => {
  it('z of @hono/zod-openapi is the zod the shared contracts are written with', () => {
    expect(openapiZ).toBe(z);
    expect(openapiZ.ZodType).toBe(z.ZodType);
    // So the shared schemas carry .openapi() too, and their .meta() lands in the registry the generator reads.
    expect(typeof (Lease as unknown as { openapi?: unknown }).openapi).toBe('function');
    expect(z.globalRegistry.get(Lease)?.id).toBe('Lease');
  });
});

describe('the edge answers in the shared shapes', () => {
  it('POST /leases → Lease (job: TrainingJob, the dataset images with their sha256)', async () => {
    const job = await newJob();
    const lease = expectContract(TrainingLease, await leaseOf(job));
    expectContract(Lease, lease);
    expectContract(TrainingJob, lease.job);
    expect(lease.job.status).toBe('running');
    expect(lease.attempts).toBe(1);
    expect(lease.dataset.images).toHaveLength(4);
    for (const image of lease.dataset.images) expect(image.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(lease.job.hyperparameters).toEqual(Hyperparameters.parse(lease.job.hyperparameters));
  });

  it('POST /jobs/{id}/heartbeat → HeartbeatResponse; /events → TrainingJob; /complete → TrainingJob (succeeded)', async () => {
    const lease = await leaseOf(await newJob());
    const jobId = lease.job.id;

    const beat: HeartbeatRequest = {
      lease_id: lease.lease_id,
      lease_seconds: 300,
      progress: { epoch: 1, epochs: 2, step: 3, steps: 8 },
      metrics: { train_loss: 0.75, train_accuracy: 0.5 },
    };
    expect(HeartbeatRequest.parse(beat)).toEqual(beat);
    const hb = expectContract(HeartbeatResponse, await ok(await worker(`/jobs/${jobId}/heartbeat`, beat)));
    expect(hb.cancel_requested).toBe(false);

    const event: EventRequest = { lease_id: lease.lease_id, level: 'info', type: 'metrics', message: 'epoch 1 done', data: { epoch: 1, loss: 0.75 } };
    expect(EventRequest.parse(event)).toEqual(event);
    expectContract(TrainingJob, await ok(await worker(`/jobs/${jobId}/events`, event)));

    const bytes = new TextEncoder().encode('adapter bytes');
    await edge.ports.blobs.put(lease.storage.artifact_key, bytes, 'application/octet-stream');
    const complete: CompleteRequest = {
      lease_id: lease.lease_id,
      artifact: { key: lease.storage.artifact_key, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') },
      base_model: 'toy-clip',
      classes: ['cat', 'dog'],
      metrics: { train_loss: 0.25, train_accuracy: 0.9, val_accuracy: 0.8 },
    };
    expect(CompleteRequest.parse(complete)).toEqual(complete);
    const done = expectContract(TrainingJob, await ok(await worker(`/jobs/${jobId}/complete`, complete)));
    expect(done.status).toBe('succeeded');
    expect(done.model_id).toEqual(expect.any(String));
  });

  it('POST /jobs/{id}/fail → TrainingJob (failed)', async () => {
    const lease = await leaseOf(await newJob());
    const fail: FailRequest = { lease_id: lease.lease_id, code: 'dataset_changed', message: 'An image changed after it was verified.' };
    expect(FailRequest.parse(fail)).toEqual(fail);
    const failed = expectContract(TrainingJob, await ok(await worker(`/jobs/${lease.job.id}/fail`, fail)));
    expect(failed.error).toEqual({ code: fail.code, message: fail.message });
  });

  it('a cancel: heartbeat says cancel_requested; POST /jobs/{id}/cancelled → TrainingJob (cancelled)', async () => {
    const lease = await leaseOf(await newJob());
    const jobId = lease.job.id;
    await ok(await edge.fetch(`/v1/training-jobs/${jobId}/cancel`, { method: 'POST', headers: bearer(apiKey) }));
    const hb = expectContract(HeartbeatResponse, await ok(await worker(`/jobs/${jobId}/heartbeat`, { lease_id: lease.lease_id })));
    expect(hb.cancel_requested).toBe(true);
    const cancelled: CancelledRequest = { lease_id: lease.lease_id };
    expect(CancelledRequest.parse(cancelled)).toEqual(cancelled);
    const job = expectContract(TrainingJob, await ok(await worker(`/jobs/${jobId}/cancelled`, cancelled)));
    expect(job.status).toBe('cancelled');
  });
});

describe('what the contract rejects, the edge rejects (422 validation_failed)', () => {
  const cases: [string, string, Record<string, unknown>, z.ZodType][] = [
    ['/leases', 'LeaseRequest', { worker_id: 'gpu 01' }, LeaseRequest],
    ['/leases', 'LeaseRequest', { worker_id: 'gpu-01', lease_seconds: 0 }, LeaseRequest],
    ['/jobs/job_x/heartbeat', 'HeartbeatRequest', { lease_id: 'lse_x', progress: { epoch: 1, loss: 2 } }, HeartbeatRequest],
    ['/jobs/job_x/heartbeat', 'HeartbeatRequest', { lease_id: 'lse_x', metrics: { train_loss: 'low' } }, HeartbeatRequest],
    ['/jobs/job_x/events', 'EventRequest', { lease_id: 'lse_x', level: 'debug', type: 'message', message: 'hi' }, EventRequest],
    [
      '/jobs/job_x/complete',
      'CompleteRequest',
      { lease_id: 'lse_x', artifact: { key: 'k', bytes: 1, sha256: 'AB'.repeat(32) }, base_model: 'toy-clip', classes: ['cat'], metrics: {} },
      CompleteRequest,
    ],
    ['/jobs/job_x/fail', 'FailRequest', { lease_id: 'lse_x', code: '', message: 'x' }, FailRequest],
    ['/jobs/job_x/cancelled', 'CancelledRequest', { lease_id: 'lse_x', reason: 'unknown field' }, CancelledRequest],
  ];
  it.each(cases)('POST %s, refused by %s: %j', async (path, _name, body, schema) => {
    expect(schema.safeParse(body).success).toBe(false);
    const answer = await ok<{ error: { code: string } }>(await worker(path, body), 422);
    expect(answer.error.code).toBe('validation_failed');
  });
});

describe('/openapi.json documents the worker routes with the shared schemas', () => {
  const routes: [string, z.ZodObject, z.ZodObject][] = [
    ['/internal/v1/jobs/{id}/heartbeat', HeartbeatRequest, HeartbeatResponse],
    ['/internal/v1/jobs/{id}/complete', CompleteRequest, TrainingJob],
    ['/internal/v1/jobs/{id}/result', ResultRequest, Evaluation],
    ['/internal/v1/jobs/{id}/cancelled', CancelledRequest, TrainingJob],
  ];
  /** Routes whose 200 answer is a union (a training job's or an evaluation's). */
  const unionRoutes: [string, z.ZodObject, string, string[]][] = [
    ['/internal/v1/leases', LeaseRequest, 'Lease', ['TrainingLease', 'EvaluationLease']],
    ['/internal/v1/jobs/{id}/events', EventRequest, 'LeasedWork', ['TrainingJob', 'Evaluation']],
    ['/internal/v1/jobs/{id}/fail', FailRequest, 'LeasedWork', ['TrainingJob', 'Evaluation']],
  ];

  it.each(unionRoutes)('POST %s: the request is its shared component; the 200 answer is the union of the shared components', (path, request, name, members) => {
    const op = doc.paths[path]?.post;
    expect(op.requestBody.content['application/json'].schema).toEqual({ $ref: `#/components/schemas/${componentOf(request)}` });
    expect(op.responses['200'].content['application/json'].schema).toEqual({ $ref: `#/components/schemas/${name}` });
    const union = doc.components.schemas[name];
    const refs = (union.oneOf ?? union.anyOf).map((s: { $ref: string }) => s.$ref);
    expect(refs).toEqual(members.map((m) => `#/components/schemas/${m}`));
  });

  const componentOf = (schema: z.ZodType): string => {
    const id = z.globalRegistry.get(schema)?.id;
    expect(id, 'a shared schema without .meta({id})').toEqual(expect.any(String));
    return id!;
  };

  it.each(routes)('POST %s: request and 200 response are the components of the shared schemas, with their fields', (path, request, response) => {
    const op = doc.paths[path]?.post;
    expect(op, `${path} missing from /openapi.json`).toBeDefined();
    for (const [schema, at] of [
      [request, op.requestBody.content['application/json'].schema],
      [response, op.responses['200'].content['application/json'].schema],
    ] as const) {
      const name = componentOf(schema);
      expect(at).toEqual({ $ref: `#/components/schemas/${name}` });
      const component = doc.components.schemas[name];
      expect(Object.keys(component.properties).sort()).toEqual(Object.keys(schema.shape).sort());
      const required = Object.entries(schema.shape)
        .filter(([, field]) => !(field as z.ZodType).safeParse(undefined).success)
        .map(([key]) => key)
        .sort();
      expect([...(component.required ?? [])].sort()).toEqual(required);
    }
  });

  it('the Lease component references TrainingJob (and it Hyperparameters) by name', () => {
    const { schemas } = doc.components;
    expect(schemas.TrainingLease.properties.job).toEqual({ $ref: '#/components/schemas/TrainingJob' });
    expect(schemas.TrainingJob.properties.hyperparameters).toEqual({ $ref: '#/components/schemas/Hyperparameters' });
    expect(Object.keys(schemas.Hyperparameters.properties).sort()).toEqual(Object.keys(Hyperparameters.shape).sort());
    expect(Object.keys(schemas.TrainingLease.properties.dataset.properties.images.items.properties).sort()).toEqual(Object.keys(LeaseImage.shape).sort());
  });
});
