// The real worker process (gpu-worker/worker-process.ts) on the bundled toy CLIP: the trainer and the inference
// server share one loaded model — the process logs exactly one model load — the trainer polls the edge (a stand-in
// answering 204 "nothing to do") with the worker token, the inference server classifies and its /metrics (METRICS_TOKEN) reports the trainer, the deprecated TF_BACKEND
// still chooses the backend (with a one-line notice), and SIGTERM stops everything with exit 0.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tfBackendFromEnv } from '../../gpu-worker/runtime/tf-backend-env.ts';
import { type Launched, cleanEnv, freePort, launch } from '../helpers/processes.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { waitUntil } from '../helpers/wait-until.ts';

const TOKEN = 'worker-process-test-token';
const workDir = useTmpDir('worker-process-');
let edge: Server;
let edgeUrl: string;
const leaseRequests: { auth: string | undefined; body: string }[] = [];
let worker: Launched | null = null;

beforeAll(async () => {
  edge = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/internal/v1/leases') {
        leaseRequests.push({ auth: req.headers.authorization, body });
        res.writeHead(204).end();
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: 'no' } }));
      }
    });
  });
  edge.listen(0, '127.0.0.1');
  await once(edge, 'listening');
  edgeUrl = `http://127.0.0.1:${(edge.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (worker && worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
  edge?.close();
});

describe('worker process', () => {
  it('loads the model once for the trainer and the inference server; both work; SIGTERM exits 0', async () => {
    const port = await freePort();
    worker = launch(
      ['bin/run-ts.mjs', 'gpu-worker/worker-process.ts'],
      cleanEnv({
        EDGE_URL: edgeUrl,
        WORKER_TOKEN: TOKEN,
        METRICS_TOKEN: 'worker-process-metrics-token',
        WORKER_ID: 'wp-test',
        MODEL_DIR: 'models/toy-clip',
        S3_ENDPOINT: 'http://127.0.0.1:9', // never contacted: no adapter is requested
        S3_BUCKET: 'unused',
        S3_ACCESS_KEY_ID: 'x',
        S3_SECRET_ACCESS_KEY: 'x',
        WORK_DIR: workDir,
        INFERENCE_PORT: String(port),
        COCOOP_TF_BACKEND: '',
        TF_BACKEND: 'wasm', // the deprecated name still works
        POLL_MS: '100',
        MAX_POLL_MS: '200',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      }),
    );
    const w = worker;
    await w.waitFor(/^worker wp-test: polling for jobs$/, 60_000);
    await w.waitFor(/^inference server listening on http:\/\/127\.0\.0\.1:\d+$/);

    // One model load in the whole process, in the words the operator sees.
    const loads = w.lines.filter((l) => /\bmodel\b.*\bloaded\b/.test(l));
    expect(loads, w.lines.join('\n')).toHaveLength(1);
    expect(loads[0]).toMatch(/^model toy-clip loaded from \/\S+\/models\/toy-clip in \d+\.\d s$/);

    // TF_BACKEND is an alias of COCOOP_TF_BACKEND, with one notice.
    expect(w.lines.filter((l) => /deprecated/.test(l))).toEqual(['TF_BACKEND is deprecated: set COCOOP_TF_BACKEND=wasm instead']);
    expect(w.lines).toContain('trainer wp-test: tfjs backend wasm');

    // The trainer asks the edge for work with the worker token.
    await waitUntil('a second lease request', () => leaseRequests.length >= 2);
    expect(leaseRequests[0]!.auth).toBe(`Bearer ${TOKEN}`);
    // Each lease request is named (a retry of it gets the same lease back: lease-retry.test.ts).
    expect(JSON.parse(leaseRequests[0]!.body)).toEqual({ worker_id: 'wp-test', request_id: expect.stringMatching(/^[0-9a-f-]{36}$/), lease_seconds: 120 });

    // The inference server classifies with the shared model.
    const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 220, g: 20, b: 20 } } }).png().toBuffer();
    const res = await fetch(`http://127.0.0.1:${port}/internal/v1/classify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ base_model: 'toy-clip', adapter: null, labels: ['red circle', 'blue square'], images: [png.toString('base64')] }),
    });
    expect(res.status).toBe(200);
    const { logits } = (await res.json()) as { logits: number[][] };
    expect(logits).toHaveLength(1);
    expect(logits[0]).toHaveLength(2);
    expect(logits[0]!.every(Number.isFinite)).toBe(true);

    // The inference server's /metrics (METRICS_TOKEN) reports the trainer beside it: idle, no job finished yet.
    const scrape = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: 'Bearer worker-process-metrics-token' } });
    expect(scrape.status).toBe(200);
    const m = parsePrometheusText(await scrape.text());
    expect(sampleValue(m, 'worker_trainer_busy')).toBe(0);
    expect(sampleValue(m, 'worker_trainer_jobs_total', { outcome: 'succeeded' })).toBe(0);
    expect(sampleValue(m, 'inference_image_batch_size_count')).toBe(1);

    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(w.lines.filter((l) => /\bmodel\b.*\bloaded\b/.test(l))).toHaveLength(1);
  }, 120_000);
});

describe('the TF.js backend setting (every process reads it through tfBackendFromEnv)', () => {
  it('COCOOP_TF_BACKEND; TF_BACKEND as a deprecated alias with one notice per process; unknown values refused', () => {
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    expect(tfBackendFromEnv({}, log)).toBeNull();
    expect(tfBackendFromEnv({ COCOOP_TF_BACKEND: ' ' }, log)).toBeNull();
    expect(tfBackendFromEnv({ COCOOP_TF_BACKEND: 'node', TF_BACKEND: 'cpu' }, log)).toEqual({ choice: 'node', variable: 'COCOOP_TF_BACKEND' });
    expect(tfBackendFromEnv({ COCOOP_TF_BACKEND: 'auto' }, log)).toEqual({ choice: 'auto', variable: 'COCOOP_TF_BACKEND' });
    expect(lines).toEqual([]);
    expect(tfBackendFromEnv({ TF_BACKEND: 'cpu' }, log)).toEqual({ choice: 'cpu', variable: 'TF_BACKEND' });
    expect(tfBackendFromEnv({ TF_BACKEND: 'auto' }, log)).toEqual({ choice: 'auto', variable: 'TF_BACKEND' });
    expect(lines).toEqual(['TF_BACKEND is deprecated: set COCOOP_TF_BACKEND=cpu instead']);
    expect(() => tfBackendFromEnv({ COCOOP_TF_BACKEND: 'gpu' }, log)).toThrow('COCOOP_TF_BACKEND must be one of auto, node-gpu, node, wasm, cpu, got "gpu"');
    expect(() => tfBackendFromEnv({ TF_BACKEND: 'tensorflow' }, log)).toThrow('TF_BACKEND must be one of auto, node-gpu, node, wasm, cpu, got "tensorflow"');
  });
});
