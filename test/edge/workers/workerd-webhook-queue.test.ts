// Webhook delivery of the Workers build inside workerd (`wrangler dev`, local D1 and Queues, S3 on s3rver) with one
// slow receiver: 20 tenants with one endpoint each, 10 events each (training jobs created and cancelled: one
// `training_job.cancelled` delivery per job), 200 deliveries in all; one tenant's receiver takes 10 s per request.
// Required (issue 16): every other tenant's deliveries arrive within 2 minutes. The old design's ceiling came from
// the once-a-minute cron (50 deliveries a minute for everyone); the test asserts that the other tenants' deliveries
// all arrive, each at its own endpoint, before the cron trigger has run at all — through the queue as they are
// created — and prints the latencies it measured (median and max; measured, not asserted: no test here reads the
// clock for a verdict, the deadline is only a bound on a hang). Then the cron runs once a minute, as in production,
// and the slow tenant's deliveries arrive too, never more than 6 at once.
// The deliveries are created round by round with the slow tenant first in every round (the worst order for a FIFO).
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningS3rver, startS3rver } from '../../helpers/s3rver.ts';
import { waitUntil } from '../../helpers/wait-until.ts';
import { type WranglerDev, startWranglerDev, WORKERD_ADMIN, WORKERD_WORKER, edgeVars } from '../../helpers/wrangler-dev.ts';

const ADMIN = WORKERD_ADMIN;
const WORKER = WORKERD_WORKER;
const TENANTS = 20;
const EVENTS = 10;
const SLOW_MS = 10_000;

interface Arrival {
  path: string;
  jobId: string;
  at: number;
  headers: Record<string, string>;
  body: string;
}

let s3: RunningS3rver;
let dev: WranglerDev;
let rx: ReturnType<typeof createServer>;
let rxUrl = '';
const arrivals: Arrival[] = [];
let slowOpen = 0;
let slowMaxOpen = 0;
let slowAnswered = 0;

function receive(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    const body = Buffer.concat(chunks).toString('utf8');
    let jobId = '';
    try {
      jobId = String((JSON.parse(body) as { data: { id: string } }).data.id);
    } catch {
      // counted as an arrival without a job id: the test fails on it
    }
    arrivals.push({ path: req.url ?? '/', jobId, at, headers: req.headers as Record<string, string>, body });
    if (req.url !== '/slow') return void res.writeHead(200).end();
    slowOpen++;
    slowMaxOpen = Math.max(slowMaxOpen, slowOpen);
    setTimeout(() => {
      slowOpen--;
      slowAnswered++;
      res.writeHead(200).end();
    }, SLOW_MS);
  });
}

beforeAll(async () => {
  s3 = await startS3rver();
  rx = createServer(receive);
  await new Promise<void>((ok) => rx.listen(0, '127.0.0.1', ok));
  rxUrl = `http://127.0.0.1:${(rx.address() as AddressInfo).port}`;
  dev = await startWranglerDev({
    vars: edgeVars(s3),
    testScheduled: true,
  });
}, 120_000);

afterAll(async () => {
  await dev?.stop();
  rx?.closeAllConnections();
  await new Promise<void>((ok) => (rx ? rx.close(() => ok()) : ok()));
  await s3?.stop();
});

const f = (path: string, init?: RequestInit) => fetch(dev.base + path, init);
const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const json = (token: string) => ({ ...auth(token), 'content-type': 'application/json' });

async function ok<T>(res: Promise<Response>, status = 200): Promise<T> {
  const r = await res;
  const text = await r.text();
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${text}\n${dev.log().slice(-3000)}`);
  return (text ? JSON.parse(text) : null) as T;
}

const png = async (r: number) =>
  new Uint8Array(await sharp({ create: { width: 8, height: 8, channels: 3, background: { r, g: 80, b: 150 } } }).png().toBuffer());

interface Tenant {
  key: string;
  datasetId: string;
  endpointId: string;
  secret: string;
  path: string;
}

async function setUpTenant(i: number, images: Uint8Array[]): Promise<Tenant> {
  const path = i === 0 ? '/slow' : `/t${i}`;
  const { api_key: key } = await ok<{ api_key: string }>(f('/v1/tenants', { method: 'POST', headers: json(ADMIN), body: JSON.stringify({ name: `Tenant ${i}` }) }), 201);
  const ds = await ok<{ id: string }>(f('/v1/datasets', { method: 'POST', headers: json(key), body: JSON.stringify({ name: 'd', classes: ['cat', 'dog'] }) }), 201);
  for (const [label, bytes] of [['cat', images[0]], ['dog', images[1]]] as const) {
    const fd = new FormData();
    fd.append('label', label);
    fd.append('file', new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/png' }), `${label}.png`);
    await ok(f(`/v1/datasets/${ds.id}/images`, { method: 'POST', headers: auth(key), body: fd }), 201);
  }
  await ok(f(`/v1/datasets/${ds.id}/finalize`, { method: 'POST', headers: auth(key) }));
  const ep = await ok<{ id: string; secret: string }>(
    f('/v1/webhook-endpoints', { method: 'POST', headers: json(key), body: JSON.stringify({ url: rxUrl + path }) }),
    201,
  );
  return { key, datasetId: ds.id, endpointId: ep.id, secret: ep.secret, path };
}

/** Creates a job and cancels it (→ one training_job.cancelled delivery); the test's clock just before the cancel. */
async function event(t: Tenant): Promise<{ jobId: string; createdAt: number }> {
  const job = await ok<{ id: string }>(
    f('/v1/training-jobs', { method: 'POST', headers: json(t.key), body: JSON.stringify({ dataset_id: t.datasetId, method: 'cocoop', hyperparameters: { epochs: 1 } }) }),
    201,
  );
  const createdAt = Date.now();
  const cancelled = await ok<{ status: string }>(f(`/v1/training-jobs/${job.id}/cancel`, { method: 'POST', headers: auth(t.key) }));
  expect(cancelled.status).toBe('cancelled');
  return { jobId: job.id, createdAt };
}

describe('webhook delivery through Cloudflare Queues in workerd, with one slow receiver', () => {
  it(`200 deliveries to ${TENANTS} tenants: every other tenant's arrive through the queue before any cron run; the slow one's arrive, ≤ 6 at once`, async () => {
    const images = [await png(20), await png(220)];
    const tenants: Tenant[] = [];
    for (let i = 0; i < TENANTS; i += 5) tenants.push(...(await Promise.all([0, 1, 2, 3, 4].map((k) => setUpTenant(i + k, images)))));

    // No cron trigger until the other tenants' deliveries have all arrived: they must not need it.
    let cronRuns: Promise<unknown> = Promise.resolve();
    let cronCount = 0;
    let cron: ReturnType<typeof setInterval> | undefined;

    try {
      const created = new Map<string, { tenant: number; at: number }>();
      for (let round = 0; round < EVENTS; round++) {
        // The slow tenant first, then the others at once.
        const first = await event(tenants[0]);
        created.set(first.jobId, { tenant: 0, at: first.createdAt });
        const rest = await Promise.all(tenants.slice(1).map((t) => event(t)));
        rest.forEach((e, k) => created.set(e.jobId, { tenant: k + 1, at: e.createdAt }));
      }
      expect(created.size).toBe(TENANTS * EVENTS);

      // Every other tenant's 190 deliveries arrive, each at its own endpoint, with no cron run at all.
      const fastJobs = [...created].filter(([, c]) => c.tenant !== 0).map(([id]) => id);
      const arrivedOnce = () => new Set(arrivals.filter((a) => a.path !== '/slow').map((a) => a.jobId));
      await waitUntil('the other tenants\' deliveries (through the queue, no cron run)', () => fastJobs.every((id) => arrivedOnce().has(id)), {
        timeoutMs: 300_000,
        intervalMs: 250,
        context: () => `arrived ${arrivedOnce().size} of ${fastJobs.length}\n${dev.log().slice(-4000)}`,
      });
      expect(cronCount).toBe(0);
      const latencies: number[] = [];
      for (const id of fastJobs) {
        const c = created.get(id)!;
        const a = arrivals.find((x) => x.jobId === id)!;
        expect(a.path).toBe(tenants[c.tenant].path);
        latencies.push(a.at - c.at);
      }
      latencies.sort((a, b) => a - b);
      console.log(
        `workerd webhook queue: ${fastJobs.length} deliveries to ${TENANTS - 1} tenants arrived with no cron run; latency median ${latencies[latencies.length >> 1]} ms, max ${latencies.at(-1)} ms (requirement: 2 minutes); slow tenant: ${slowAnswered} of ${EVENTS} answered by then`,
      );

      // From here the cron trigger runs once a minute, as in production: it drives the edge as Cloudflare would;
      // nothing waits on it. Runs one after another; one still running at the end is awaited.
      cron = setInterval(() => {
        cronCount++;
        cronRuns = cronRuns.then(() => f('/__scheduled?cron=*+*+*+*+*').then((r) => r.arrayBuffer()));
      }, 60_000);

      // The slow tenant's 10 arrive and succeed (10 s each), never more than 6 open at once.
      const slowJobs = [...created].filter(([, c]) => c.tenant === 0).map(([id]) => id);
      const slow = tenants[0];
      let page: { data: { id: string; status: string; attempt_count: number; next_attempt_at: string | null; attempts: unknown[] }[] } = { data: [] };
      await waitUntil(
        'the slow tenant\'s deliveries to succeed',
        async () => {
          if (slowAnswered < EVENTS) return false;
          page = await ok(f(`/v1/webhook-endpoints/${slow.endpointId}/deliveries?limit=100`, { headers: auth(slow.key) }));
          return page.data.length === EVENTS && page.data.every((d) => d.status === 'succeeded');
        },
        { timeoutMs: 150_000, intervalMs: 250, context: () => `answered ${slowAnswered}; deliveries: ${JSON.stringify(page.data)}\n${dev.log().slice(-4000)}` },
      );
      expect(new Set(arrivals.filter((a) => a.path === '/slow').map((a) => a.jobId))).toEqual(new Set(slowJobs));
      expect(slowMaxOpen).toBeGreaterThan(1);
      expect(slowMaxOpen).toBeLessThanOrEqual(6);

      // Every request is signed for its endpoint; no delivery arrived twice.
      for (const a of arrivals) {
        const t = tenants.find((x) => x.path === a.path)!;
        expect(new Webhook(t.secret).verify(a.body, a.headers)).toMatchObject({ type: 'training_job.cancelled', data: { id: a.jobId } });
      }
      expect(arrivals).toHaveLength(TENANTS * EVENTS);
      expect(dev.log()).not.toMatch(/\[cron\] background errors|\[webhooks\].*failed/);
    } finally {
      if (cron) clearInterval(cron);
      await cronRuns;
    }
  }, 420_000);
});
