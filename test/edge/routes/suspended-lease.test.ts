// Nothing of a suspended tenant is leased to a worker: its queued evaluation waits while it is suspended (its training
// jobs are cancelled by the suspension itself) and is leased again once the tenant is unsuspended. Real HTTP, SQLite.
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { insertReadyDataset, workerClient } from '../../helpers/jobs.ts';

let edge: TestEdge;
afterEach(async () => {
  await edge?.close();
});

describe('a suspended tenant', () => {
  it('its queued evaluation is not leased until the tenant is unsuspended; other tenants are unaffected', async () => {
    edge = await startTestEdge();
    const a = await edge.createTenant('A');
    const b = await edge.createTenant('B');
    const evaluate = async (key: string, datasetId: string) => {
      const res = await edge.fetch('/v1/evaluations', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify({ model: 'zero-shot', dataset_id: datasetId }) });
      expect(res.status).toBe(202);
      return ((await res.json()) as { id: string }).id;
    };
    const evA = await evaluate(a.api_key, insertReadyDataset(edge, a.id));
    const admin = (path: string) => edge.fetch(path, { method: 'POST', headers: bearer(ADMIN_TOKEN) });
    expect((await admin(`/v1/tenants/${a.id}/suspend`)).status).toBe(200);
    const w = workerClient(edge);
    expect((await w.lease('gpu-1')).status).toBe(204);
    // Another tenant's work is leased meanwhile.
    const evB = await evaluate(b.api_key, insertReadyDataset(edge, b.id));
    const leasedB = await w.leaseAnyOk('gpu-1');
    expect(leasedB.kind === 'evaluation' && leasedB.evaluation.id).toBe(evB);
    expect((await w.lease('gpu-2')).status).toBe(204);
    expect((await admin(`/v1/tenants/${a.id}/unsuspend`)).status).toBe(200);
    const leasedA = await w.leaseAnyOk('gpu-2');
    expect(leasedA.kind === 'evaluation' && leasedA.evaluation.id).toBe(evA);
  });
});
