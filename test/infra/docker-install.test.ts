// The edge and CPU worker images without Docker (Docker is not on the machines this is built on): each image's
// filesystem is assembled in a temp folder from its Dockerfile — the COPY instructions over the .dockerignore'd build
// context, and its `RUN infra/docker/install.sh …` step run for real (npm ci from the npm registry, the npm cache
// reused) — then the compose file's services are started from those folders with the Dockerfile's ENV and the
// compose environment (an s3rver standing in for MinIO, loopback ports for the service names): the one-shot bucket
// job, the edge's CMD and the worker's CMD, their HEALTHCHECK commands, a zero-shot classification through the edge
// and the worker, and a SIGTERM that stops both cleanly. What this does not replay: the base images, the RUN lines
// that add a user or system packages (listed and checked below), and the CUDA image (its install step downloads from
// NuGet, which this machine cannot reach).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toyImageSet } from '../../lab/toyworld/image-sets.ts';
import { encodePng } from '../../lab/toyworld/png.ts';
import { ROOT, freePort } from '../helpers/processes.ts';
import { type RunningS3rver, startS3rver } from '../helpers/s3rver.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { readCompose, serviceEnvironment } from './docker-compose-file.ts';
import { type AssembledImage, type Started, assembleImage, imagePath, readDockerfile, startInImage } from './docker-image.ts';

// What infra/docker/.env would hold (s3rver's fixed key pair as the S3 credentials).
const VARS: Record<string, string> = {
  ADMIN_TOKEN: 'adm_images_test_0123456789',
  WORKER_TOKEN: 'wrk_images_test_0123456789',
  INFERENCE_TOKEN: 'inf_images_test_0123456789',
  S3_ACCESS_KEY_ID: 'S3RVER',
  S3_SECRET_ACCESS_KEY: 'S3RVER',
};
const compose = readCompose();

describe('the edge and worker images, assembled from their Dockerfiles and run as the compose file runs them', () => {
  const tmp = useTmpDir('cocoop-images-');
  let edgeImage: AssembledImage;
  let workerImage: AssembledImage;
  let s3: RunningS3rver;
  let edge: Started | undefined;
  let worker: Started | undefined;
  const ports = { edge: 0, worker: 0 };
  let edgeUrl = '';

  /** Compose's service addresses → this machine's. */
  const hosts = () => ({
    'http://minio:9000': s3.endpoint,
    'http://edge:8787': `http://127.0.0.1:${ports.edge}`,
    'http://worker:8790': `http://127.0.0.1:${ports.worker}`,
  });

  /** A container's environment: the image's ENV (its paths inside the assembled folder), then compose's. */
  function containerEnv(img: AssembledImage, service: string, extra: Record<string, string>): NodeJS.ProcessEnv {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: join(tmp, 'home') };
    for (const [k, v] of Object.entries(img.final.env)) {
      env[k] = v.startsWith('/') ? imagePath(img, v) : v;
      if (v.startsWith('/')) mkdirSync(env[k]!, { recursive: true }); // the Dockerfile's `mkdir -p … && chown`
    }
    for (const [k, v] of Object.entries(serviceEnvironment(compose.services[service]!, VARS))) {
      env[k] = v.startsWith('/') ? imagePath(img, v) : Object.entries(hosts()).reduce((s, [from, to]) => s.replace(from, to), v);
      expect(env[k], `${service} ${k}`).not.toMatch(/\/\/(minio|edge|worker)[:/]/);
    }
    return { ...env, ...extra };
  }

  beforeAll(async () => {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, npm_config_prefer_offline: 'true' };
    [edgeImage, workerImage] = await Promise.all([
      assembleImage(readDockerfile('infra/docker/edge.Dockerfile'), join(tmp, 'edge'), env),
      assembleImage(readDockerfile('infra/docker/worker.Dockerfile'), join(tmp, 'worker'), env),
    ]);
    s3 = await startS3rver();
    ports.edge = await freePort();
    ports.worker = await freePort();
  }, 900_000);

  afterAll(async () => {
    for (const p of [worker, edge]) if (p && p.child.exitCode === null) p.child.kill('SIGKILL');
    await s3?.stop();
  });

  it('install.sh installed production dependencies and loaded the native modules each image needs, nothing more', () => {
    expect(edgeImage.installLog).toMatch(/better-sqlite3 loads \(SQLite [\d.]+\)/);
    expect(workerImage.installLog).toMatch(/onnxruntime-node loads \(backends cpu\b.*sharp [\d.]+ made a \d+-byte PNG/);
    const modules = (img: AssembledImage, name: string) => existsSync(join(img.appFolder, 'node_modules', name));
    expect(modules(edgeImage, 'better-sqlite3/build/Release/better_sqlite3.node')).toBe(true);
    for (const gone of ['onnxruntime-node', '@tensorflow', 'sharp', 'vitest', 's3rver']) expect(modules(edgeImage, gone), `edge: ${gone}`).toBe(false);
    for (const gone of ['better-sqlite3', 'vitest', 's3rver', 'onnxruntime-node/bin/napi-v6/win32', '@tensorflow/tfjs/dist/tf.node.js.map']) {
      expect(modules(workerImage, gone), `worker: ${gone}`).toBe(false);
    }
    expect(modules(workerImage, `onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`)).toBe(true);
    // The RUN lines not replayed here only add a system user, build tools or npm itself.
    for (const run of [...edgeImage.skippedRuns, ...workerImage.skippedRuns]) expect(run).toMatch(/^(npm install -g npm@[\d.]+|apt-get update|groupadd --system)/);
  });

  it("the compose file's bucket job (from the edge image) creates the bucket and exits 0", async () => {
    const bucket = compose.services.bucket!;
    const job = startInImage(edgeImage, bucket.command!, containerEnv(edgeImage, 'bucket', {}));
    expect(await job.exited, job.lines.join('\n')).toBe(0);
    const env = serviceEnvironment(bucket, VARS);
    const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    await expect(client.send(new HeadBucketCommand({ Bucket: env.S3_BUCKET }))).resolves.toBeDefined();
    client.destroy();
  });

  it("the edge image's CMD serves the API with SQLite in DATA_DIR, and its HEALTHCHECK passes", async () => {
    edge = startInImage(edgeImage, edgeImage.final.cmd!, containerEnv(edgeImage, 'edge', { HOST: '127.0.0.1', PORT: String(ports.edge) }));
    edgeUrl = (await edge.waitFor(/edge listening on (http:\/\/\S+)/))[1]!;
    expect(edgeUrl).toBe(`http://127.0.0.1:${ports.edge}`);
    expect(existsSync(join(imagePath(edgeImage, edgeImage.final.env.DATA_DIR!), 'edge.sqlite'))).toBe(true);
    const health = await fetch(`${edgeUrl}/healthz`);
    expect(health.status).toBe(200);
    const check = startInImage(edgeImage, edgeImage.final.healthcheck!, { PATH: process.env.PATH, PORT: String(ports.edge) });
    expect(await check.exited).toBe(0);
  });

  it("the worker image's CMD starts its inference server and its trainer against that edge, and its HEALTHCHECK passes", async () => {
    worker = startInImage(workerImage, workerImage.final.cmd!, containerEnv(workerImage, 'worker', { INFERENCE_HOST: '127.0.0.1', INFERENCE_PORT: String(ports.worker) }));
    await worker.waitFor(/inference server listening on http:\/\/127\.0\.0\.1:\d+/);
    await worker.waitFor(new RegExp(`training engine ort \\(onnxruntime, execution provider ${workerImage.final.env.ORT_EP}\\)`));
    expect(worker.lines.join('\n')).toMatch(new RegExp(`model toy-clip loaded from ${workerImage.appFolder}/models/toy-clip`));
    const check = startInImage(workerImage, workerImage.final.healthcheck!, { PATH: process.env.PATH, INFERENCE_PORT: String(ports.worker) });
    expect(await check.exited).toBe(0);
  });

  it('a zero-shot classification goes through the edge to the worker and back', async () => {
    const tenant = await fetch(`${edgeUrl}/v1/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${VARS.ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'images-test' }),
    });
    expect(tenant.status).toBe(201);
    const { api_key } = (await tenant.json()) as { api_key: string };
    const labels = ['red circle', 'blue square', 'green triangle'];
    const set = await toyImageSet('raster', 'test', 3, labels, 1, 48);
    const res = await fetch(`${edgeUrl}/v1/classify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api_key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'zero-shot', images: await Promise.all(set.images.map(async (im) => (await encodePng(im)).toString('base64'))), labels }),
    });
    const body = (await res.json()) as { results: { predictions: { label: string; score: number }[] }[] };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.results.map((r) => r.predictions[0]!.label)).toEqual(labels);
    for (const r of body.results) expect(r.predictions.reduce((a, p) => a + p.score, 0)).toBeCloseTo(1, 5);
    // The graphs were built into the image's COCOOP_CACHE_DIR, not into the (read-only in the image) model folder.
    expect(worker!.lines.join('\n')).toContain(`cached in ${imagePath(workerImage, workerImage.final.env.COCOOP_CACHE_DIR!)}`);
  });

  it('SIGTERM (docker stop) stops the worker and the edge with exit code 0', async () => {
    worker!.child.kill('SIGTERM');
    expect(await worker!.exited, worker!.lines.slice(-10).join('\n')).toBe(0);
    edge!.child.kill('SIGTERM');
    expect(await edge!.exited, edge!.lines.slice(-10).join('\n')).toBe(0);
  });

  it("`install.sh check` (the CUDA image's last step) loads the native modules in an image with no package-lock.json, and with --cuda resolves the CUDA provider's libraries with ldd", async () => {
    const script = join(ROOT, 'infra/docker/install.sh');
    const check = (img: AssembledImage, ...args: string[]) => spawnSync('bash', [script, 'check', ...args], { cwd: img.appFolder, env: { PATH: process.env.PATH }, encoding: 'utf8' });
    expect(existsSync(join(workerImage.appFolder, 'package-lock.json'))).toBe(false);
    const edgeCheck = check(edgeImage, 'edge');
    expect(edgeCheck.status, edgeCheck.stderr).toBe(0);
    expect(edgeCheck.stdout).toMatch(/better-sqlite3 loads/);
    const workerCheck = check(workerImage, 'worker');
    expect(workerCheck.status, workerCheck.stderr).toBe(0);
    expect(workerCheck.stdout).toMatch(/onnxruntime-node loads/);
    // This image has no CUDA provider: --cuda fails, naming the missing library.
    const noProvider = check(workerImage, 'worker', '--cuda');
    expect(noProvider.status).toBe(1);
    expect(noProvider.stderr).toMatch(/libonnxruntime_providers_cuda\.so is missing/);
    // A provider whose libraries all resolve passes (here a stand-in: ONNX Runtime's own library, which links only the
    // C and C++ runtimes), which exercises the ldd step itself.
    const bin = join(workerImage.appFolder, 'node_modules/onnxruntime-node/bin/napi-v6', process.platform, process.arch);
    copyFileSync(join(bin, 'libonnxruntime.so.1'), join(bin, 'libonnxruntime_providers_cuda.so'));
    const resolved = check(workerImage, 'worker', '--cuda');
    expect(resolved.status, resolved.stderr).toBe(0);
    expect(resolved.stdout).toMatch(/the CUDA provider's libraries all resolve/);
  });
});
