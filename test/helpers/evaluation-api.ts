// The fixture of the evaluation route tests (test/edge/routes/evaluations*.test.ts): the evaluation requests, a
// published model made through the worker API, the evaluation lease and webhook outbox rows (hand-written results are
// in evaluation-scores.ts).
import { expect } from 'vitest';
import type { Scores } from '../../shared/contracts/evaluation.ts';
import type { Lease } from '../../shared/contracts/worker-api.ts';
import { type TestEdge, bearer, jsonHeaders } from './edge.ts';
import { completeBody, insertReadyDataset, workerClient } from './jobs.ts';
import { createJob } from './training-job-api.ts';

export type Evaluation = {
  id: string;
  object: string;
  model: string;
  dataset_id: string;
  labels: string[];
  status: string;
  result: Scores | null;
  error: { code: string; message: string } | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
};
type EvaluationLeaseBody = Extract<Lease, { kind: 'evaluation' }>;

export const createEvaluation = (e: TestEdge, key: string, body: unknown, headers: Record<string, string> = {}) =>
  e.fetch('/v1/evaluations', { method: 'POST', headers: jsonHeaders(key, headers), body: JSON.stringify(body) });

export async function createEvaluationOk(e: TestEdge, key: string, body: Record<string, unknown>): Promise<Evaluation> {
  const res = await createEvaluation(e, key, body);
  if (res.status !== 202) throw new Error(`create evaluation: ${res.status} ${await res.text()}`);
  return (await res.json()) as Evaluation;
}

export async function getEvaluation(e: TestEdge, key: string, id: string): Promise<Evaluation> {
  const res = await e.fetch(`/v1/evaluations/${id}`, { headers: bearer(key) });
  expect(res.status).toBe(200);
  return (await res.json()) as Evaluation;
}

/** A published model of the tenant: a training job created, leased and completed through the worker API. */
export async function publishModel(e: TestEdge, key: string, tenantId: string): Promise<{ modelId: string; artifactKey: string; sha256: string }> {
  const datasetId = insertReadyDataset(e, tenantId, ['cat', 'dog'], 2);
  const res = await createJob(e, key, { dataset_id: datasetId, method: 'cocoop' });
  expect(res.status).toBe(201);
  const w = workerClient(e);
  const lease = await w.leaseOk('trainer');
  const body = await completeBody(e, lease);
  const done = await w.complete(lease.job.id, body);
  expect(done.status).toBe(200);
  const modelId = ((await done.json()) as { model_id: string }).model_id;
  return { modelId, artifactKey: lease.storage.artifact_key, sha256: body.artifact.sha256 };
}

export async function leaseEvaluation(e: TestEdge, workerId = 'w1'): Promise<EvaluationLeaseBody> {
  const lease = await workerClient(e).leaseAnyOk(workerId, 60);
  if (lease.kind !== 'evaluation') throw new Error(`expected an evaluation lease, got ${lease.kind}`);
  return lease;
}

export function deliveryRows(e: TestEdge, type: string): { endpoint_id: string; payload: string }[] {
  return e.db.raw.prepare('SELECT endpoint_id, payload FROM webhook_deliveries WHERE event_type = ? ORDER BY endpoint_id').all(type) as {
    endpoint_id: string;
    payload: string;
  }[];
}

