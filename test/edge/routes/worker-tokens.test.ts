// Per-worker tokens (docs/security.md G6) over real HTTP with real SQLite: issued, listed and revoked by the admin
// (POST/GET/DELETE /v1/workers), stored only hashed; a worker token leases as its worker (lease_worker = its id) and
// drives only the leases it took; the configured WORKER_TOKEN keeps working (bootstrap/legacy).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ADMIN_TOKEN, WORKER_TOKEN, type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { completeBody, count, insertReadyDataset, workerClient } from '../../helpers/jobs.ts';

let edge: TestEdge;
beforeAll(async () => {
  edge = await startTestEdge();
});
afterAll(async () => {
  await edge?.close();
});

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function issue(name: string): Promise<{ id: string; name: string; token: string; prefix: string; created_at: string }> {
  const res = await edge.fetch('/v1/workers', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: JSON.stringify({ name }) });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; name: string; token: string; prefix: string; created_at: string };
}

async function queueJob(tenant: { id: string; api_key: string }): Promise<string> {
  const dataset = insertReadyDataset(edge, tenant.id);
  const res = await edge.fetch('/v1/training-jobs', { method: 'POST', headers: jsonHeaders(tenant.api_key), body: JSON.stringify({ dataset_id: dataset, method: 'coop' }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

describe('POST/GET/DELETE /v1/workers (admin)', () => {
  it('issues a token shown once and stored only as its sha256; lists tokens without it; revocation is at once', async () => {
    const w = await issue('gpu-pool-a');
    expect(Object.keys(w).sort()).toEqual(['created_at', 'id', 'name', 'prefix', 'token']);
    expect(w.id).toMatch(/^wkr_[0-9a-z]{21}$/);
    expect(w.token).toMatch(/^wkt_live_[0-9A-Za-z]{32}$/);
    expect(w.prefix).toBe(w.token.slice(0, 13));
    const row = edge.db.raw.prepare('SELECT * FROM worker_tokens WHERE id = ?').get(w.id) as Record<string, unknown>;
    expect(row.token_hash).toBe(sha256(w.token));
    expect(JSON.stringify(row)).not.toContain(w.token);

    // The token works on the worker API and is noted as used.
    expect((await workerClient(edge, w.token).lease('anything')).status).toBe(204);
    const list = await edge.fetch('/v1/workers', { headers: bearer(ADMIN_TOKEN) });
    expect(list.status).toBe(200);
    const page = (await list.json()) as { data: Record<string, unknown>[]; has_more: boolean };
    const listed = page.data.find((x) => x.id === w.id)!;
    expect(Object.keys(listed).sort()).toEqual(['created_at', 'id', 'last_used_at', 'name', 'prefix', 'revoked_at']);
    expect(listed.last_used_at).toEqual(expect.any(String));
    expect(listed.revoked_at).toBeNull();
    expect(JSON.stringify(page)).not.toContain(w.token);

    expect((await edge.fetch(`/v1/workers/${w.id}`, { method: 'DELETE', headers: bearer(ADMIN_TOKEN) })).status).toBe(204);
    const refused = await workerClient(edge, w.token).lease('anything');
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/revoked/) });
    // Revoking again is 404; an unknown id is 404.
    expect((await edge.fetch(`/v1/workers/${w.id}`, { method: 'DELETE', headers: bearer(ADMIN_TOKEN) })).status).toBe(404);
    expect((await edge.fetch('/v1/workers/wkr_nope', { method: 'DELETE', headers: bearer(ADMIN_TOKEN) })).status).toBe(404);
    // The configured token still works.
    expect((await workerClient(edge, WORKER_TOKEN).lease('legacy')).status).toBe(204);
  });

  it('only the admin token may manage worker tokens; a worker token cannot call tenant or admin routes', async () => {
    const t = await edge.createTenant('NotAdmin');
    const w = await issue('scoped');
    for (const token of [t.api_key, WORKER_TOKEN, w.token]) {
      expect((await edge.fetch('/v1/workers', { method: 'POST', headers: jsonHeaders(token), body: JSON.stringify({ name: 'x' }) })).status).toBe(401);
      expect((await edge.fetch('/v1/workers', { headers: bearer(token) })).status).toBe(401);
    }
    for (const path of ['/v1/me', '/v1/datasets', '/v1/api-keys', '/v1/audit-events']) {
      expect((await edge.fetch(path, { headers: bearer(w.token) })).status, path).toBe(401);
    }
  });

  it('bad input is 422 in the error shape and writes nothing', async () => {
    const before = count(edge, 'SELECT COUNT(*) AS n FROM worker_tokens');
    const audited = count(edge, 'SELECT COUNT(*) AS n FROM audit_events');
    for (const body of [{}, { name: '' }, { name: 'a\u0000b' }, { name: 'x', extra: 1 }, { name: 'x'.repeat(201) }]) {
      const res = await edge.fetch('/v1/workers', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: JSON.stringify(body) });
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('validation_failed');
    }
    expect(count(edge, 'SELECT COUNT(*) AS n FROM worker_tokens')).toBe(before);
    expect(count(edge, 'SELECT COUNT(*) AS n FROM audit_events')).toBe(audited);
  });
});

describe('leases under per-worker tokens', () => {
  it("a lease records the token's worker; another worker's token cannot drive it (409 lease_id) and changes nothing", async () => {
    const t = await edge.createTenant('Leases');
    const jobId = await queueJob(t);
    const [a, b] = [await issue('worker-a'), await issue('worker-b')];
    const workerA = workerClient(edge, a.token);
    const workerB = workerClient(edge, b.token);
    const lease = await workerA.leaseOk('claims-to-be-someone-else');
    expect(lease.job.id).toBe(jobId);
    expect(edge.db.raw.prepare('SELECT lease_worker FROM training_jobs WHERE id = ?').get(jobId)).toEqual({ lease_worker: a.id });

    const before = edge.db.raw.prepare('SELECT * FROM training_jobs WHERE id = ?').get(jobId);
    const events = count(edge, 'SELECT COUNT(*) AS n FROM job_events WHERE job_id = ?', jobId);
    const calls = [
      workerB.heartbeat(jobId, { lease_id: lease.lease_id, progress: { epoch: 1 } }),
      workerB.event(jobId, { lease_id: lease.lease_id, level: 'info', type: 'message', message: 'hijack' }),
      workerB.fail(jobId, { lease_id: lease.lease_id, code: 'x', message: 'hijack' }),
      workerB.cancelled(jobId, { lease_id: lease.lease_id }),
      workerB.complete(jobId, await completeBody(edge, lease)),
    ];
    for (const res of await Promise.all(calls)) {
      expect(res.status).toBe(409);
      const body = (await res.json()) as { error: { code: string; param?: string; message: string } };
      expect(body.error).toMatchObject({ code: 'conflict', param: 'lease_id', message: expect.stringMatching(/another worker/) });
    }
    expect(edge.db.raw.prepare('SELECT * FROM training_jobs WHERE id = ?').get(jobId)).toEqual(before);
    expect(count(edge, 'SELECT COUNT(*) AS n FROM job_events WHERE job_id = ?', jobId)).toBe(events);

    // Its own worker drives it to the end.
    expect((await workerA.heartbeat(jobId, { lease_id: lease.lease_id, progress: { epoch: 1 } })).status).toBe(200);
    expect((await workerA.complete(jobId, await completeBody(edge, lease))).status).toBe(200);
  });

  it('the configured WORKER_TOKEN still leases under the body worker_id and may drive any lease (bootstrap/legacy)', async () => {
    const t = await edge.createTenant('Legacy');
    const jobId = await queueJob(t);
    const a = await issue('worker-a2');
    const lease = await workerClient(edge, a.token).leaseOk();
    const legacy = workerClient(edge, WORKER_TOKEN);
    expect((await legacy.heartbeat(jobId, { lease_id: lease.lease_id })).status).toBe(200);
    expect((await legacy.fail(jobId, { lease_id: lease.lease_id, code: 'gone', message: 'operator stopped it' })).status).toBe(200);

    const second = await queueJob(t);
    const legacyLease = await legacy.leaseOk('legacy-host#1');
    expect(legacyLease.job.id).toBe(second);
    expect(edge.db.raw.prepare('SELECT lease_worker FROM training_jobs WHERE id = ?').get(second)).toEqual({ lease_worker: 'legacy-host#1' });
    // A per-worker token cannot drive a lease the configured token took either.
    expect((await workerClient(edge, a.token).heartbeat(second, { lease_id: legacyLease.lease_id })).status).toBe(409);
  });

  it('a revoked worker loses its leases to the next worker once they expire; its token is refused at once', async () => {
    const t = await edge.createTenant('Revoked');
    const jobId = await queueJob(t);
    const a = await issue('worker-a3');
    const lease = await workerClient(edge, a.token).leaseOk(undefined, 1);
    expect((await edge.fetch(`/v1/workers/${a.id}`, { method: 'DELETE', headers: bearer(ADMIN_TOKEN) })).status).toBe(204);
    expect((await workerClient(edge, a.token).heartbeat(jobId, { lease_id: lease.lease_id })).status).toBe(401);
    // Expire the lease (as time would) and let another worker resume it.
    edge.db.raw.prepare('UPDATE training_jobs SET lease_expires_at = 0 WHERE id = ?').run(jobId);
    const b = await issue('worker-b3');
    const resumed = await workerClient(edge, b.token).leaseOk();
    expect(resumed.job.id).toBe(jobId);
    expect(resumed.attempts).toBe(2);
  });
});

describe('INFERENCE_TOKEN', () => {
  it('the edge sends INFERENCE_TOKEN to the inference service, and that token opens nothing on the edge', async () => {
    const seen: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ embeddings: [[1, 0, 0]] }));
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const inferenceToken = 'inference-only-token-0123456789';
    const split = await startTestEdge({ inferenceUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, inferenceToken });
    try {
      const t = await split.createTenant('Embeds');
      const res = await split.fetch('/v1/embeddings/text', { method: 'POST', headers: jsonHeaders(t.api_key), body: JSON.stringify({ texts: ['a cat'] }) });
      expect(res.status).toBe(200);
      expect(seen).toEqual([`Bearer ${inferenceToken}`]);
      expect((await workerClient(split, inferenceToken).lease('w')).status).toBe(401);
      expect((await split.fetch('/v1/me', { headers: bearer(inferenceToken) })).status).toBe(401);
    } finally {
      await split.close();
      await new Promise<void>((ok) => server.close(() => ok()));
    }
  });
});
