// The Workers build of the edge (edge/worker.ts, infra/cloudflare/wrangler.toml) inside workerd:
// `wrangler dev` (local mode) with local D1 (schema applied with `wrangler d1 migrations apply --local`)
// and local KV, S3 on s3rver reached through aws4fetch. Drives the main flows over HTTP.
// Wrangler's state, logs and config live in a temp dir; metrics and the cf.json fetch are off.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningS3rver, startS3rver } from '../../helpers/s3rver.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WRANGLER = join(ROOT, 'node_modules/wrangler/bin/wrangler.js');
const ADMIN = 'workerd-admin-token-0123456789';
const WORKER = 'workerd-worker-token-0123456789';

let s3: RunningS3rver;
let dir: string;
let dev: ChildProcess | undefined;
let base = '';
let devLog = '';

/** infra/cloudflare/wrangler.toml with its relative paths made absolute, written into `dir` (so .wrangler/ lands there). */
function writeConfig(): string {
  const src = join(ROOT, 'infra/cloudflare/wrangler.toml');
  const text = readFileSync(src, 'utf8').replace(/^(\s*(?:main|migrations_dir)\s*=\s*)"([^"]+)"/gm, (_, k: string, p: string) =>
    `${k}${JSON.stringify(resolve(ROOT, 'infra/cloudflare', p))}`,
  );
  const file = join(dir, 'wrangler.toml');
  writeFileSync(file, text);
  // .dev.vars: local values of vars and secrets (override [vars]).
  const vars = {
    ADMIN_TOKEN: ADMIN,
    WORKER_TOKEN: WORKER,
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    S3_REGION: 'us-east-1',
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    LOCAL_MODE: 'true',
  };
  writeFileSync(join(dir, '.dev.vars'), Object.entries(vars).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join('\n') + '\n');
  return file;
}

function wranglerEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CI: 'true',
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_SEND_ERROR_REPORTS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    XDG_CONFIG_HOME: join(dir, 'config'),
    WRANGLER_LOG_PATH: join(dir, 'logs'),
    WRANGLER_CACHE_DIR: join(dir, 'cache'),
    NO_COLOR: '1',
    FORCE_COLOR: '0',
  };
}

beforeAll(async () => {
  s3 = await startS3rver();
  dir = mkdtempSync(join(tmpdir(), 'workerd-edge-'));
  mkdirSync(join(dir, 'config'));
  const config = writeConfig();
  const state = join(dir, 'state');
  await promisify(execFile)(process.execPath, [WRANGLER, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', state, '-c', config], {
    cwd: dir,
    env: wranglerEnv(),
    timeout: 30_000,
  });
  const child = spawn(
    process.execPath,
    [WRANGLER, 'dev', '-c', config, '--ip', '127.0.0.1', '--port', '0', '--persist-to', state, '--test-scheduled', '--show-interactive-dev-session=false'],
    { cwd: dir, env: wranglerEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  dev = child;
  base = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`wrangler dev not ready after 40 s:\n${devLog}`)), 40_000);
    const onData = (b: Buffer) => {
      devLog += b.toString();
      const m = /Ready on (http:\/\/[^\s]+)/.exec(devLog);
      if (m) {
        clearTimeout(timer);
        ok(m[1].replace(/\/+$/, ''));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`wrangler dev exited with ${code}:\n${devLog}`));
    });
  });
}, 90_000);

afterAll(async () => {
  if (process.env.WORKERD_TEST_LOG) {
    await new Promise((ok) => setTimeout(ok, 1500));
    writeFileSync(process.env.WORKERD_TEST_LOG, devLog);
  }
  if (dev?.pid !== undefined && dev.exitCode === null) {
    const exited = new Promise<void>((ok) => dev!.once('exit', () => ok()));
    // The child leads its own process group (detached): this stops wrangler and its workerd.
    process.kill(-dev.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5000))]);
    if (dev.exitCode === null) process.kill(-dev.pid, 'SIGKILL');
  }
  await s3?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const f = (path: string, init?: RequestInit) => fetch(base + path, init);
const auth = (token: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, ...extra });
const json = (token: string, extra: Record<string, string> = {}) => auth(token, { 'content-type': 'application/json', ...extra });

async function expectError(res: Response, status: number, code: string): Promise<{ code: string; message: string; param?: string }> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { code: string; message: string; param?: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  return body.error;
}

const png = async (r: number) =>
  new Uint8Array(await sharp({ create: { width: 12, height: 10, channels: 3, background: { r, g: 90, b: 160 } } }).png().toBuffer());

function form(label: string, files: Uint8Array[]): FormData {
  const fd = new FormData();
  fd.append('label', label);
  for (const [i, bytes] of files.entries()) fd.append('file', new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/png' }), `${label}${i}.png`);
  return fd;
}

describe('the edge in workerd (wrangler dev --local, D1, KV, S3 via aws4fetch)', () => {
  let apiKey = '';
  let tenantId = '';
  let datasetId = '';

  it('serves /openapi.json and answers 401 in the error shape', async () => {
    const spec = await f('/openapi.json');
    expect(spec.status).toBe(200);
    expect(((await spec.json()) as { openapi: string }).openapi).toMatch(/^3\./);
    await expectError(await f('/v1/me'), 401, 'unauthorized');
    await expectError(await f('/v1/me', { headers: auth('sk_not_a_real_key_0123456789') }), 401, 'unauthorized');
  });

  it('creates a tenant (admin) and GET /v1/me answers for its key', async () => {
    const res = await f('/v1/tenants', { method: 'POST', headers: json(ADMIN), body: JSON.stringify({ name: 'Workerd Co' }) });
    expect(res.status).toBe(201);
    const t = (await res.json()) as { id: string; api_key: string };
    apiKey = t.api_key;
    tenantId = t.id;
    const me = await f('/v1/me', { headers: auth(apiKey) });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ id: tenantId });
  });

  it('creates a dataset, uploads images (multipart → S3), finalizes; 404 and 422 shapes', async () => {
    const res = await f('/v1/datasets', { method: 'POST', headers: json(apiKey), body: JSON.stringify({ name: 'Pets', classes: ['cat', 'dog'] }) });
    expect(res.status).toBe(201);
    datasetId = ((await res.json()) as { id: string }).id;

    for (const [label, shade] of [['cat', 10], ['dog', 200]] as const) {
      const up = await f(`/v1/datasets/${datasetId}/images`, { method: 'POST', headers: auth(apiKey), body: form(label, [await png(shade), await png(shade + 20)]) });
      expect(up.status, await up.clone().text()).toBe(201);
      const body = (await up.json()) as { images: { id: string; width: number; height: number }[] };
      expect(body.images).toHaveLength(2);
      expect(body.images[0]).toMatchObject({ width: 12, height: 10 });
    }
    const fin = await f(`/v1/datasets/${datasetId}/finalize`, { method: 'POST', headers: auth(apiKey) });
    expect(fin.status).toBe(200);
    expect(await fin.json()).toMatchObject({ status: 'ready', image_count: 4 });

    await expectError(await f('/v1/datasets/ds_doesnotexist', { headers: auth(apiKey) }), 404, 'not_found');
    const bad = await f('/v1/datasets', { method: 'POST', headers: json(apiKey), body: JSON.stringify({ name: '' }) });
    await expectError(bad, 422, 'validation_failed');
  });

  it('creates a training job idempotently, a worker leases and completes it, and the model appears', async () => {
    const create = () =>
      f('/v1/training-jobs', {
        method: 'POST',
        headers: json(apiKey, { 'Idempotency-Key': 'job-1' }),
        body: JSON.stringify({ dataset_id: datasetId, method: 'cocoop', hyperparameters: { epochs: 2 } }),
      });
    const first = await create();
    expect(first.status).toBe(201);
    const job = (await first.json()) as { id: string; status: string };
    expect(job.status).toBe('queued');
    const again = await create();
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as { id: string }).id).toBe(job.id);

    const w = (path: string, body: unknown) => f(`/internal/v1${path}`, { method: 'POST', headers: json(WORKER), body: JSON.stringify(body) });
    await expectError(await f('/internal/v1/leases', { method: 'POST', headers: json(apiKey), body: '{"worker_id":"w"}' }), 401, 'unauthorized');
    const leaseRes = await w('/leases', { worker_id: 'gpu-1' });
    expect(leaseRes.status).toBe(200);
    const lease = (await leaseRes.json()) as {
      job: { id: string };
      lease_id: string;
      storage: { artifact_key: string };
      dataset: { images: { object_key: string }[] };
    };
    expect(lease.job.id).toBe(job.id);
    expect(lease.dataset.images).toHaveLength(4);

    // The worker's view of S3: the dataset images the edge stored, and its own artifact upload.
    const { S3Client, GetObjectCommand, PutObjectCommand } = await import('@aws-sdk/client-s3');
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const img = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: lease.dataset.images[0].object_key }));
    expect((await img.Body!.transformToByteArray()).subarray(1, 4)).toEqual(new TextEncoder().encode('PNG'));
    const artifact = new TextEncoder().encode('adapter bytes from workerd test');
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: lease.storage.artifact_key, Body: artifact, ContentType: 'application/octet-stream' }));
    client.destroy();

    const done = await w(`/jobs/${job.id}/complete`, {
      lease_id: lease.lease_id,
      artifact: { key: lease.storage.artifact_key, bytes: artifact.byteLength, sha256: createHash('sha256').update(artifact).digest('hex') },
      base_model: 'toy-clip',
      classes: ['cat', 'dog'],
      metrics: { train_loss: 0.3, train_accuracy: 0.8 },
    });
    expect(done.status, await done.clone().text()).toBe(200);
    const modelId = ((await done.json()) as { model_id: string }).model_id;

    const jobNow = await f(`/v1/training-jobs/${job.id}`, { headers: auth(apiKey) });
    expect(await jobNow.json()).toMatchObject({ status: 'succeeded' });
    const model = await f(`/v1/models/${modelId}`, { headers: auth(apiKey) });
    expect(model.status).toBe(200);
    expect(await model.json()).toMatchObject({ id: modelId });
    const dl = await f(`/v1/models/${modelId}/artifact`, { headers: auth(apiKey) });
    expect(dl.status).toBe(200);
    expect(new Uint8Array(await dl.arrayBuffer())).toEqual(artifact);
  });

  it('runs the cron trigger (background tasks) without error', async () => {
    const res = await f('/__scheduled?cron=*+*+*+*+*');
    expect(res.status).toBe(200);
    expect(devLog).not.toMatch(/\[cron\] background errors/);
  });
});
