// Fault: webhook receivers that misbehave, end to end through the real stack path — a job finished through the
// internal worker API over HTTP (edge on Node + SQLite + s3rver), its outbox row written in the finishing
// transaction, sent by the edge's background timer (webhook timeout 500 ms) to real loopback HTTP servers. The first
// retry waits an hour of the edge's clock (a ShiftedClock): the test moves it on once it is ready, so no step races time.
// test/edge/webhooks/dispatcher.test.ts already covers, at the dispatcher level: 500, 500, 200 (same webhook-id),
// the retry schedule and giving up, 410 disabling the endpoint, 302 not followed, a slow receiver timing out.
// This file adds what it lacks — a receiver that is down (connection refused) — and runs the families through
// the real path. Proves:
//  - down (refused), then up and answering 500, then slow (past the timeout), then 302, then 200: each attempt is
//    logged with its cause, the redirect is never followed, every request carries the same webhook-id and a valid
//    signature, and the job ends with exactly one delivery, succeeded;
//  - a receiver that never comes up: every attempt is refused, the delivery fails after the last attempt and is
//    not sent again; the job itself stays succeeded;
//  - 410 to a failed job's webhook: one request, the endpoint is disabled, the delivery failed, and the next job's
//    final event is not even enqueued for it.
import { createHash } from 'node:crypto';
import { type Server, type ServerResponse, createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { ShiftedClock } from '../helpers/manual-clock.ts';
import { freePort } from '../helpers/processes.ts';
import { ADMIN_TOKEN, type FaultStack, type Job, WORKER_TOKEN, api, createJob, readyDataset, startFaultStack, toyPngs, waitFor } from './stack.ts';

const TIMEOUT_MS = 500;
const FIRST_RETRY_S = 3600;
const SCHEDULE_S = [FIRST_RETRY_S, 0.2, 0.2, 0.2, 0.2, 0.2]; // 7 attempts; the second only once the test moves the clock
const clock = new ShiftedClock();
let stack: FaultStack;
let pngs: { label: string; bytes: Uint8Array }[];
const servers: Server[] = [];

beforeAll(async () => {
  stack = await startFaultStack({ config: { clock: clock.now }, webhooks: { retryScheduleSeconds: SCHEDULE_S, timeoutMs: TIMEOUT_MS } });
  pngs = await toyPngs(['red circle', 'blue square'], 1);
}, 60_000);

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  await stack?.close();
});

interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A receiver on a given loopback port; `answer` gets the 1-based request number. */
async function receiverOn(port: number, answer: (res: ServerResponse, n: number) => void): Promise<Received[]> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ path: req.url ?? '/', headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8') });
      answer(res, got.length);
    });
  });
  servers.push(server);
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', ok);
  });
  return got;
}

const internal = async (path: string, body: unknown) => {
  const res = await fetch(`${stack.url}/internal/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${WORKER_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
};

/** A tenant whose only webhook endpoint is `url`, with a ready dataset. */
async function tenant(url: string) {
  const t = await api<{ id: string; api_key: string }>(stack.url, ADMIN_TOKEN, 'POST', '/v1/tenants', { name: 'hooks' }, 201);
  const ep = await api<{ id: string; secret: string }>(stack.url, t.api_key, 'POST', '/v1/webhook-endpoints', { url }, 201);
  const datasetId = await readyDataset(stack, t.api_key, pngs);
  return { key: t.api_key, endpointId: ep.id, secret: ep.secret, datasetId };
}

/** A job leased and finished through the internal API, as a worker does: succeeded (artifact in S3) or failed. */
async function finishJob(key: string, datasetId: string, outcome: 'succeeded' | 'failed'): Promise<Job> {
  const job = await createJob(stack, key, datasetId, 1);
  const lease = (await internal('/leases', { worker_id: 'hooks-worker', lease_seconds: 60 })) as {
    job: { id: string };
    lease_id: string;
    storage: { artifact_key: string };
  };
  expect(lease.job.id).toBe(job.id);
  if (outcome === 'failed') {
    await internal(`/jobs/${job.id}/fail`, { lease_id: lease.lease_id, code: 'training_failed', message: 'The loss diverged.' });
  } else {
    const bytes = new TextEncoder().encode('adapter bytes');
    await stack.blobs().put(lease.storage.artifact_key, bytes, 'application/octet-stream');
    await internal(`/jobs/${job.id}/complete`, {
      lease_id: lease.lease_id,
      artifact: { key: lease.storage.artifact_key, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') },
      base_model: 'toy-clip',
      classes: ['blue square', 'red circle'],
      metrics: {},
    });
  }
  return job;
}

interface DeliveryRow {
  id: string;
  event_type: string;
  status: string;
  attempts: number;
  payload: string;
}
const deliveryRows = (endpointId: string) =>
  stack.edge.db.raw.prepare('SELECT id, event_type, status, attempts, payload FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY id').all(endpointId) as DeliveryRow[];
const attemptRows = (deliveryId: string) =>
  stack.edge.db.raw.prepare('SELECT status_code, error FROM webhook_attempts WHERE delivery_id = ? ORDER BY seq').all(deliveryId) as {
    status_code: number | null;
    error: string | null;
  }[];

/**
 * Resolves once a background round that started after this call has finished (runNow joins a round in progress,
 * which may have started before: the second call then starts, or joins, a later one).
 */
async function backgroundRoundAfterNow(): Promise<void> {
  await stack.edge.background!.runNow();
  await stack.edge.background!.runNow();
}

const waitForDelivery = (endpointId: string, what: string, ok: (rows: DeliveryRow[]) => boolean, timeoutMs = 20_000) =>
  waitFor(what, async () => {
    const rows = deliveryRows(endpointId);
    return ok(rows) && rows;
  }, timeoutMs, () => JSON.stringify(deliveryRows(endpointId).map((d) => [d, attemptRows(d.id)])));

describe('webhook receivers that misbehave (a finished job → delivery with retries)', () => {
  it('down, then 500, then slow, then 302, then 200: one succeeded delivery, the same webhook-id throughout', async () => {
    const port = await freePort(); // nothing listens there yet: connection refused
    const t = await tenant(`http://127.0.0.1:${port}/hook`);
    const job = await finishJob(t.key, t.datasetId, 'succeeded');
    const [first] = await waitForDelivery(t.endpointId, 'a refused first attempt', (rows) => rows[0]?.attempts === 1 && attemptRows(rows[0].id).length === 1);
    expect(attemptRows(first!.id)).toEqual([{ status_code: null, error: expect.stringMatching(/ECONNREFUSED/) }]);

    const got = await receiverOn(port, (res, n) => {
      if (n === 1) res.writeHead(500).end('oops');
      else if (n === 2) return; // never answered: the edge times out and hangs up
      else if (n === 3) res.writeHead(302, { location: `http://127.0.0.1:${port}/elsewhere` }).end();
      else res.writeHead(200).end('ok');
    });
    clock.advance(FIRST_RETRY_S * 1000); // the receiver is up: the second attempt is due
    const rows = await waitForDelivery(t.endpointId, 'the delivery to succeed', (r) => r[0]?.status !== 'pending');
    expect(rows.map((d) => [d.event_type, d.status, d.attempts])).toEqual([['training_job.succeeded', 'succeeded', 5]]);
    const attempts = attemptRows(rows[0]!.id);
    expect(attempts.map((a) => a.status_code)).toEqual([null, 500, null, 302, 200]);
    expect(attempts[2]!.error).toMatch(/timeout/);
    expect(attempts[3]!.error).toMatch(/redirect not followed/);

    expect(got.map((r) => r.path)).toEqual(['/hook', '/hook', '/hook', '/hook']); // never /elsewhere
    expect(new Set(got.map((r) => r.headers['webhook-id']))).toEqual(new Set([rows[0]!.id]));
    const wh = new Webhook(t.secret);
    for (const r of got) expect(wh.verify(r.body, r.headers)).toMatchObject({ type: 'training_job.succeeded', data: { id: job.id, status: 'succeeded' } });
    expect((await api<Job>(stack.url, t.key, 'GET', `/v1/training-jobs/${job.id}`)).status).toBe('succeeded');
  }, 40_000);

  it('a receiver that never comes up: every attempt refused, the delivery fails after the last one, the job stays succeeded', async () => {
    const port = await freePort();
    const t = await tenant(`http://127.0.0.1:${port}/never`);
    const job = await finishJob(t.key, t.datasetId, 'succeeded');
    await waitForDelivery(t.endpointId, 'a refused first attempt', (rows) => rows[0]?.attempts === 1);
    clock.advance(FIRST_RETRY_S * 1000);
    const rows = await waitForDelivery(t.endpointId, 'the delivery to fail', (r) => r[0]?.status === 'failed');
    expect(rows.map((d) => [d.event_type, d.status, d.attempts])).toEqual([['training_job.succeeded', 'failed', SCHEDULE_S.length + 1]]);
    const attempts = attemptRows(rows[0]!.id);
    expect(attempts).toHaveLength(SCHEDULE_S.length + 1);
    for (const a of attempts) expect(a).toEqual({ status_code: null, error: expect.stringMatching(/ECONNREFUSED/) });
    // Nothing more is tried once it failed: a whole background round that started after it, and a day later.
    await backgroundRoundAfterNow();
    clock.advance(24 * 3600_000);
    await backgroundRoundAfterNow();
    expect(attemptRows(rows[0]!.id)).toHaveLength(SCHEDULE_S.length + 1);
    expect((await api<Job>(stack.url, t.key, 'GET', `/v1/training-jobs/${job.id}`)).status).toBe('succeeded');
  }, 40_000);

  it('410 to a failed job: one request, the endpoint is disabled, no later event is enqueued for it', async () => {
    const port = await freePort();
    const got = await receiverOn(port, (res) => res.writeHead(410).end('gone'));
    const t = await tenant(`http://127.0.0.1:${port}/gone`);
    const job = await finishJob(t.key, t.datasetId, 'failed');
    const rows = await waitForDelivery(t.endpointId, 'the delivery to fail', (r) => r[0]?.status === 'failed');
    expect(rows.map((d) => [d.event_type, d.status, d.attempts])).toEqual([['training_job.failed', 'failed', 1]]);
    expect(attemptRows(rows[0]!.id)).toEqual([{ status_code: 410, error: null }]);
    expect(got).toHaveLength(1);
    expect(new Webhook(t.secret).verify(got[0]!.body, got[0]!.headers)).toMatchObject({ type: 'training_job.failed', data: { id: job.id, status: 'failed' } });
    const ep = await api<{ disabled_at: string | null; disabled_reason: string | null }>(stack.url, t.key, 'GET', `/v1/webhook-endpoints/${t.endpointId}`);
    expect(ep.disabled_at).toEqual(expect.any(String));
    expect(ep.disabled_reason).toMatch(/410/);

    await finishJob(t.key, t.datasetId, 'succeeded');
    await backgroundRoundAfterNow();
    expect(deliveryRows(t.endpointId)).toHaveLength(1);
    expect(got).toHaveLength(1);
  }, 40_000);
});
