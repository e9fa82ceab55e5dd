// Idempotent leases over real HTTP with real SQLite: a lease request names itself (request_id); when its answer is
// lost and the trainer's client retries, the retry gets the same lease back — the job is not stranded until its
// lease expires, it keeps attempt 1, and the next queued job is not taken by mistake.
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EdgeClient } from '../../../gpu-worker/trainer/edge-client.ts';
import { type TestEdge, jsonHeaders, startTestEdge, WORKER_TOKEN } from '../../helpers/edge.ts';
import { count, insertReadyDataset, workerClient } from '../../helpers/jobs.ts';

let edge: TestEdge;
let proxy: Server | null = null;
afterEach(async () => {
  await new Promise<void>((ok) => (proxy ? proxy.close(() => ok()) : ok()));
  proxy = null;
  await edge?.close();
});

async function twoJobs(): Promise<{ first: string; second: string }> {
  edge = await startTestEdge({ quotas: { concurrent_jobs: 5 } });
  const t = await edge.createTenant();
  const datasetId = insertReadyDataset(edge, t.id);
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const res = await edge.fetch('/v1/training-jobs', { method: 'POST', headers: jsonHeaders(t.api_key), body: JSON.stringify({ dataset_id: datasetId, method: 'coop' }) });
    expect(res.status).toBe(201);
    ids.push(((await res.json()) as { id: string }).id);
  }
  return { first: ids[0]!, second: ids[1]! };
}

const attempts = (id: string) => (edge.db.raw.prepare('SELECT attempts FROM training_jobs WHERE id = ?').get(id) as { attempts: number }).attempts;
const startedEvents = (id: string) => count(edge, `SELECT COUNT(*) AS n FROM job_events WHERE job_id = ? AND message LIKE 'Started by worker%'`, id);

describe('an idempotent lease', () => {
  it('the same request_id and worker get the same lease again; another request gets the next job', async () => {
    const { first, second } = await twoJobs();
    const w = workerClient(edge);
    const body = { worker_id: 'gpu-1', request_id: 'req-1' };
    const a = await (await w.post('/leases', body)).json();
    const again = await (await w.post('/leases', body)).json();
    expect(again).toEqual(a);
    expect([a.job.id, a.attempts]).toEqual([first, 1]);
    expect(attempts(first)).toBe(1);
    expect(startedEvents(first)).toBe(1);
    // The same request id from another worker is another request.
    const other = await (await w.post('/leases', { worker_id: 'gpu-2', request_id: 'req-1' })).json();
    expect(other.job.id).toBe(second);
    expect(attempts(second)).toBe(1);
  });

  it("the trainer's client: a lost answer is retried and gets the same job; the next job stays queued", async () => {
    const { first, second } = await twoJobs();
    // A proxy that forwards the first lease request to the edge but drops its answer (the connection dies).
    let dropped = 0;
    proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const upstream = await fetch(edge.url + req.url, { method: req.method, headers: jsonHeaders(WORKER_TOKEN), body: Buffer.concat(chunks) });
        const text = await upstream.text();
        if (req.url?.endsWith('/leases') && dropped === 0) {
          dropped++;
          req.socket.destroy();
          return;
        }
        res.writeHead(upstream.status, { 'content-type': 'application/json' });
        res.end(text);
      });
    });
    await new Promise<void>((ok) => proxy!.listen(0, '127.0.0.1', ok));
    const client = new EdgeClient({ baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, token: WORKER_TOKEN, backoffMs: 20 });
    const lease = await client.lease('gpu-1', 60);
    expect(dropped).toBe(1);
    expect(lease?.kind === 'training' && lease.job.id).toBe(first);
    expect(lease?.attempts).toBe(1);
    expect(attempts(first)).toBe(1);
    const next = edge.db.raw.prepare('SELECT status, attempts FROM training_jobs WHERE id = ?').get(second);
    expect(next).toEqual({ status: 'queued', attempts: 0 });
  });
});
