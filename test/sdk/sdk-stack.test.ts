// The SDK (sdk/) against the real local stack of `npm start` (s3rver, the edge on Node with SQLite, a worker process
// with the inference server on the bundled toy CLIP), over real HTTP: a folder of 64 toy-world images uploaded with
// progress reports, a 2-epoch job waited to the end with its events, classify with the trained model, the job's webhook
// verified by webhooks.verify (and a tampered copy refused), a POST whose answer was lost deduplicated by its automatic
// Idempotency-Key, a POST the API does not deduplicate left alone, pagination over 250 datasets, typed errors.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toyImageSet, writeImageFolder } from '../../lab/toyworld/image-sets.ts';
import {
  APIConnectionError,
  AuthenticationError,
  CoCoOp,
  type ClientOptions,
  ImageFolderError,
  NotFoundError,
  UnprocessableEntityError,
  UploadError,
  type UploadFile,
  type UploadProgress,
  WebhookVerificationError,
  type TrainingJobEvent,
} from '../../sdk/src/node/index.ts';
import { cleanEnv, launch } from '../helpers/processes.ts';
import { waitUntil } from '../helpers/wait-until.ts';
import type { WebhookReceiver } from '../helpers/webhook-receiver.ts';
import { type LocalStack, type StackWithReceiver, startStackWithReceiver } from './local-stack.ts';

const CLASSES = ['blue star', 'green circle', 'red square', 'yellow triangle'];
let started: StackWithReceiver;
let stack: LocalStack;
let receiver: WebhookReceiver;
let scratch: string;
/** 64 toy-world PNGs: <scratch>/shapes/<class>/NNN.png. */
let folder: string;
/** The ready dataset of the folder (made by the upload test, trained on by the job test). */
let datasetId: string;
let key: string;

interface Sent {
  method: string;
  url: string;
  idempotencyKey: string | null;
  status?: number;
}

/** A fetch that records every request (and its answer's status) before passing it on. */
function recordingFetch(log: Sent[], wrap?: (sent: Sent, real: () => Promise<Response>, init?: RequestInit) => Promise<Response>): NonNullable<ClientOptions['fetch']> {
  return async (input, init) => {
    const sent: Sent = { method: init?.method ?? 'GET', url: String(input), idempotencyKey: new Headers(init?.headers).get('idempotency-key') };
    log.push(sent);
    const real = async () => {
      const res = await fetch(input, init);
      sent.status = res.status;
      return res;
    };
    return wrap ? wrap(sent, real, init) : real();
  };
}

const noWait: ClientOptions['sleep'] = async () => {};

/**
 * A client whose next `method` request, once armed, reaches the server and is handled, but whose answer is lost (a
 * connection reset); every request is recorded in `sent`.
 */
function answerLosingClient(method: string, armed: boolean): { client: CoCoOp; sent: Sent[]; arm(): void } {
  const sent: Sent[] = [];
  let dropOne = armed;
  const client = new CoCoOp({
    baseURL: stack.url,
    apiKey: key,
    sleep: noWait,
    fetch: recordingFetch(sent, async (s, real) => {
      const res = await real();
      if (dropOne && s.method === method) {
        dropOne = false;
        throw new TypeError('fetch failed: connection reset (dropped by the test)');
      }
      return res;
    }),
  });
  return { client, sent, arm: () => (dropOne = true) };
}

beforeAll(async () => {
  started = await startStackWithReceiver('sdk-stack-', { QUOTA_DATASETS: '300', WEBHOOK_RETRY_SCHEDULE: '1,1,1' });
  ({ stack, receiver, scratch } = started);
  folder = join(scratch, 'shapes');
  await writeImageFolder(await toyImageSet('night', 'train', 3, CLASSES, 16, 48), folder);
  key = await stack.newTenantKey('sdk tests');
}, 120_000);

afterAll(async () => {
  await started?.stop();
}, 30_000);

describe('datasets.uploadFolder', () => {
  it('uploads 64 toy-world images in batches of presigned uploads, one progress report per file', async () => {
    const sent: Sent[] = [];
    const client = new CoCoOp({ baseURL: stack.url, apiKey: key, fetch: recordingFetch(sent) });
    const ds = await client.datasets.create({ name: 'toy shapes' });
    const progress: UploadProgress[] = [];
    const { images } = await client.datasets.uploadFolder(ds.id, folder, { batchSize: 25, concurrency: 4, onProgress: (p) => progress.push(p) });

    const totalBytes = CLASSES.flatMap((c) => Array.from({ length: 16 }, (_, i) => readFileSync(join(folder, c, `${String(i).padStart(3, '0')}.png`)).length)).reduce((a, b) => a + b);
    expect(progress).toHaveLength(64);
    expect(progress.map((p) => p.uploaded)).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    expect(progress.every((p) => p.total === 64 && p.failed === 0 && p.error === undefined)).toBe(true);
    expect(new Set(progress.map((p) => p.file)).size).toBe(64);
    expect(progress.at(-1)!.bytes).toBe(totalBytes);
    // 64 files in batches of 25: three presigned-upload requests and three completes; the PUTs went to storage.
    const path = (s: Sent) => new URL(s.url).pathname;
    expect(sent.filter((s) => path(s) === `/v1/datasets/${ds.id}/uploads`).length).toBe(3);
    expect(sent.filter((s) => path(s) === `/v1/datasets/${ds.id}/uploads/complete`).length).toBe(3);
    expect(sent.filter((s) => s.method === 'PUT' && !s.url.startsWith(stack.url))).toHaveLength(64);

    expect(images).toHaveLength(64);
    expect(images.every((img) => img.width === 48 && img.height === 48)).toBe(true);
    const got = await client.datasets.retrieve(ds.id);
    expect(got.image_count).toBe(64);
    expect(got.classes.map((c) => [c.name, c.image_count])).toEqual(CLASSES.map((c) => [c, 16]));
    expect((await client.datasets.finalize(ds.id)).status).toBe('ready');
    datasetId = ds.id;
  }, 60_000);

  it('refuses a folder with a file that is not an image, or an empty folder, before uploading anything', async () => {
    const bad = join(scratch, 'bad');
    mkdirSync(join(bad, 'red square'), { recursive: true });
    writeFileSync(join(bad, 'red square', '000.png'), readFileSync(join(folder, 'red square', '000.png')));
    writeFileSync(join(bad, 'red square', 'notes.png'), 'not an image at all');
    writeFileSync(join(bad, 'loose.png'), readFileSync(join(folder, 'red square', '001.png')));
    const empty = join(scratch, 'empty');
    mkdirSync(empty);

    const sent: Sent[] = [];
    const client = new CoCoOp({ baseURL: stack.url, apiKey: key, fetch: recordingFetch(sent) });
    const ds = await client.datasets.create({ name: 'refused' });
    const before = sent.length;
    const err = await client.datasets.uploadFolder(ds.id, bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageFolderError);
    expect((err as ImageFolderError).problems).toEqual([
      'loose.png: a file outside the class folders (put each image in a folder named after its class)',
      'red square/notes.png: not a JPEG, PNG or WebP image',
    ]);
    expect((err as Error).message).toMatch(/nothing was uploaded/);
    const emptyErr = await client.datasets.uploadFolder(ds.id, empty).catch((e: unknown) => e);
    expect(emptyErr).toBeInstanceOf(ImageFolderError);
    expect((emptyErr as ImageFolderError).problems).toEqual(['the folder is empty (it needs one sub-folder of images per class)']);
    expect(sent.length).toBe(before); // not one request
    expect((await client.datasets.retrieve(ds.id)).image_count).toBe(0);
  });
});

describe('training, classification and webhooks', () => {
  it('waits for a 2-epoch job to the end, handing over each event once; classifies with its model; downloads it', async () => {
    expect(datasetId, 'the upload test made the dataset').toBeDefined();
    const client = new CoCoOp({ baseURL: stack.url, apiKey: key });
    const endpoint = await client.webhookEndpoints.create({ url: `${receiver.url}/sdk` });
    const job = await client.trainingJobs.create({
      dataset_id: datasetId,
      method: 'cocoop',
      hyperparameters: { epochs: 2, shots: 8, seed: 1, crop_scale: [0.5, 1] },
    });
    const seen: TrainingJobEvent[] = [];
    const done = await client.trainingJobs.wait(job.id, { onEvent: (e) => void seen.push(e), pollInterval: 200 });
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect(done.model_id).toMatch(/^mdl_/);
    // Every event of the job, each once, oldest first: what the (auto-paginated) event list holds.
    const all = await client.trainingJobs.events(job.id, { limit: 5 }).toArray();
    expect(seen.map((e) => e.id)).toEqual(all.map((e) => e.id));
    expect(seen.filter((e) => e.type === 'metrics').map((e) => (e.data as { epoch: number }).epoch)).toEqual([1, 2]);
    expect(seen.some((e) => /^Training succeeded/.test(e.message))).toBe(true);

    const model = await client.models.retrieve(done.model_id!);
    expect(model.classes.slice().sort()).toEqual(CLASSES);
    const image = readFileSync(join(folder, 'red square', '000.png'));
    const one = await client.classify({ model: model.id, image });
    expect(one.model).toBe(model.id);
    expect(one.predictions.map((p) => p.label).sort()).toEqual(CLASSES);
    expect(one.predictions.map((p) => p.score)).toEqual(one.predictions.map((p) => p.score).sort((a, b) => b - a));
    expect(one.predictions.reduce((s, p) => s + p.score, 0)).toBeCloseTo(1, 5);
    const batch = await client.classify({ model: model.id, images: [image, readFileSync(join(folder, 'blue star', '000.png'))], labels: ['red square', 'blue star', 'purple ring'], top_k: 2 });
    expect(batch.results.map((r) => r.predictions.length)).toEqual([2, 2]);

    const artifact = await client.models.download(model.id);
    expect(artifact.byteLength).toBe(model.artifact.bytes);
    expect(createHash('sha256').update(artifact).digest('hex')).toBe(model.artifact.sha256);

    // The job's webhook, as the receiver got it, verifies with the endpoint's secret; a changed body or secret does not.
    const delivery = await waitUntil('the webhook delivery of the job', () => receiver.at('/sdk').find((r) => r.body.includes(job.id)), {
      timeoutMs: 30_000,
      intervalMs: 100,
      context: () => stack.lines.slice(-30).join('\n'),
    });
    const event = client.webhooks.verify(delivery.body, delivery.headers, endpoint.secret);
    expect(event.type).toBe('training_job.succeeded');
    expect(event.data).toMatchObject({ id: job.id, status: 'succeeded', model_id: model.id });
    const tampered = delivery.body.replace('"succeeded"', '"failed"');
    expect(tampered).not.toBe(delivery.body);
    expect(() => client.webhooks.verify(tampered, delivery.headers, endpoint.secret)).toThrow(WebhookVerificationError);
    const otherSecret = `whsec_${Buffer.from('another secret of 24 bytes').toString('base64')}`;
    expect(() => client.webhooks.verify(delivery.body, delivery.headers, otherSecret)).toThrow(WebhookVerificationError);
    expect(() => client.webhooks.verify(delivery.body, { ...delivery.headers, 'webhook-id': 'msg_other' }, endpoint.secret)).toThrow(WebhookVerificationError);
  }, 150_000);
});

describe('the examples (sdk/examples)', () => {
  it('train-from-folder.ts trains on the toy folder; classify.ts classifies with the model it printed', async () => {
    const exampleEnv = cleanEnv({ COCOOP_BASE_URL: stack.url, COCOOP_API_KEY: key });
    const train = launch(['bin/run-ts.mjs', 'sdk/examples/train-from-folder.ts', folder, '--epochs', '2', '--shots', '4', '--name', 'example'], exampleEnv);
    expect(await train.exited, train.lines.join('\n')).toBe(0);
    const out = train.lines.join('\n');
    expect(out).toMatch(/^uploaded 64\/64 \(\d+ KiB\)$/m);
    expect(out).toMatch(/^ready: blue star \(16\), green circle \(16\), red square \(16\), yellow triangle \(16\)$/m);
    expect(out).toMatch(/^ {2}\[info\] Training succeeded/m);
    const model = out.match(/^model (mdl_\w+): validation accuracy [\d.]+% \(zero-shot CLIP [\d.]+%\)$/m)?.[1];
    expect(model, out).toBeDefined();

    const images = ['red square/000.png', 'blue star/000.png'].map((f) => join(folder, f));
    const cls = launch(['bin/run-ts.mjs', 'sdk/examples/classify.ts', model!, ...images, '--labels', 'red square,blue star,green ring', '--top', '2'], exampleEnv);
    expect(await cls.exited, cls.lines.join('\n')).toBe(0);
    expect(cls.lines[0]).toBe('labels from the request');
    expect(cls.lines.slice(1).map((l) => l.replace(/ [\d.]+%/g, ' N%'))).toEqual(
      images.map((f) => expect.stringMatching(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: (red square|blue star|green ring) N%, (red square|blue star|green ring) N%$`))),
    );
  }, 120_000);
});

describe('retries and idempotency', () => {
  it('a POST whose answer was lost is sent again with the same automatic Idempotency-Key and creates one dataset', async () => {
    const sent: Sent[] = [];
    let dropped: { id: string } | undefined;
    const client = new CoCoOp({
      baseURL: stack.url,
      apiKey: key,
      sleep: noWait,
      fetch: recordingFetch(sent, async (s, real) => {
        const res = await real();
        if (s.method === 'POST' && dropped === undefined) {
          dropped = (await res.json()) as { id: string }; // the server created it; the client never hears of it
          throw new TypeError('fetch failed: connection reset (dropped by the test)');
        }
        return res;
      }),
    });
    const ds = await client.datasets.create({ name: 'created once' });
    expect(sent.map((s) => [s.method, s.status])).toEqual([
      ['POST', 201],
      ['POST', 201],
    ]);
    expect(sent[0]!.idempotencyKey).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(sent[1]!.idempotencyKey).toBe(sent[0]!.idempotencyKey);
    expect(ds.id).toBe(dropped!.id);
    const named = (await client.datasets.list({ limit: 100 }).toArray()).filter((d) => d.name === 'created once');
    expect(named.map((d) => d.id)).toEqual([ds.id]);
    // Another call gets another key.
    await client.datasets.create({ name: 'created once' });
    expect(sent.at(-1)!.idempotencyKey).not.toBe(sent[0]!.idempotencyKey);
  });

  it('a POST the API does not deduplicate (rotate-secret) is not sent again when its answer was lost', async () => {
    const { client, sent, arm } = answerLosingClient('POST', false);
    const endpoint = await client.webhookEndpoints.create({ url: `${receiver.url}/rotate` });
    arm();
    const err = await client.webhookEndpoints.rotateSecret(endpoint.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIConnectionError);
    expect(sent.filter((s) => s.url.endsWith('/rotate-secret'))).toHaveLength(1);
    await client.webhookEndpoints.delete(endpoint.id);
  });
});

describe('deletes and partial uploads', () => {
  it('a DELETE whose answer was lost resolves when its retry finds the resource gone', async () => {
    const { client, sent } = answerLosingClient('DELETE', true);
    const ds = await client.datasets.create({ name: 'deleted once' });
    await expect(client.datasets.delete(ds.id)).resolves.toBeUndefined();
    expect(sent.filter((s) => s.method === 'DELETE').map((s) => s.status)).toEqual([204, 404]);
    await expect(client.datasets.retrieve(ds.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('uploadFiles: a file whose PUT keeps failing is reported, the others are added, then UploadError names it', async () => {
    const bytes = ['000', '001', '002', '003'].map((n) => new Uint8Array(readFileSync(join(folder, 'red square', `${n}.png`))));
    const files: UploadFile[] = bytes.map((data, i) => ({ label: 'red square', name: `${i}.png`, contentType: 'image/png', data }));
    const sent: Sent[] = [];
    const client = new CoCoOp({
      baseURL: stack.url,
      apiKey: key,
      maxRetries: 1,
      sleep: noWait,
      fetch: recordingFetch(sent, async (s, real, init) => {
        // Storage refuses the connection for file 1.png, on every attempt.
        if (s.method === 'PUT' && init?.body === bytes[1]) throw new TypeError('fetch failed: connection refused (by the test)');
        return real();
      }),
    });
    const ds = await client.datasets.create({ name: 'partial' });
    const progress: UploadProgress[] = [];
    const err = await client.datasets.uploadFiles(ds.id, files, { concurrency: 1, onProgress: (p) => progress.push(p) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadError);
    expect((err as UploadError).failed.map((f) => f.file)).toEqual(['1.png']);
    expect((err as UploadError).images).toHaveLength(3);
    expect((err as Error).message).toMatch(/^1 of 4 files failed to upload: 1\.png \(Connection error: fetch failed/);
    expect(progress.map((p) => [p.file, p.uploaded, p.failed, p.error === undefined])).toEqual([
      ['0.png', 1, 0, true],
      ['1.png', 1, 1, false],
      ['2.png', 2, 1, true],
      ['3.png', 3, 1, true],
    ]);
    expect(sent.filter((s) => s.method === 'PUT' && s.status === undefined)).toHaveLength(2); // the failing file: tried twice
    expect((await client.datasets.retrieve(ds.id)).image_count).toBe(3);
  });
});

describe('pagination', () => {
  it('for await walks 250 datasets over pages of 100; page() gives the first page', async () => {
    const tenantKey = await stack.newTenantKey('sdk pagination');
    const sent: Sent[] = [];
    const client = new CoCoOp({ baseURL: stack.url, apiKey: tenantKey, fetch: recordingFetch(sent) });
    const created: string[] = [];
    for (let i = 0; i < 250; i += 10) {
      const ds = await Promise.all(Array.from({ length: 10 }, (_, k) => client.datasets.create({ name: `ds ${i + k}` })));
      created.push(...ds.map((d) => d.id));
    }
    sent.length = 0;
    const listed: string[] = [];
    for await (const d of client.datasets.list({ limit: 100 })) listed.push(d.id);
    expect(listed).toHaveLength(250);
    expect(new Set(listed)).toEqual(new Set(created));
    expect(listed).toEqual(created.slice().sort().reverse()); // newest first
    expect(sent.map((s) => new URL(s.url).search)).toEqual(['?limit=100', `?limit=100&after=${listed[99]}`, `?limit=100&after=${listed[199]}`]);

    const first = await client.datasets.list({ limit: 100 }).page();
    expect(first.data.map((d) => d.id)).toEqual(listed.slice(0, 100));
    expect(first.hasNextPage()).toBe(true);
    const third = await (await first.getNextPage()).getNextPage();
    expect(third.data.map((d) => d.id)).toEqual(listed.slice(200));
    expect(third.hasNextPage()).toBe(false);
    // The default page size (20) walks the same list.
    expect((await client.datasets.list().toArray()).map((d) => d.id)).toEqual(listed);
  }, 60_000);
});

describe('typed errors', () => {
  it('404 is a NotFoundError with the code, 422 an UnprocessableEntityError with the param, 401 an AuthenticationError; none retried', async () => {
    const sent: Sent[] = [];
    const client = new CoCoOp({ baseURL: stack.url, apiKey: key, fetch: recordingFetch(sent), sleep: noWait });
    const notFound = await client.datasets.retrieve('ds_doesnotexist').catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(NotFoundError);
    expect(notFound).toMatchObject({ status: 404, code: 'not_found' });
    expect((notFound as NotFoundError).message).toMatch(/^404 not_found: /);
    expect((notFound as NotFoundError).headers?.get('content-type')).toMatch(/json/);

    const invalid = await client.trainingJobs.create({ dataset_id: datasetId, method: 'cocoop', hyperparameters: { epochs: 0 } }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(UnprocessableEntityError);
    expect(invalid).toMatchObject({ status: 422, code: 'validation_failed', param: 'hyperparameters.epochs' });

    const badKey = new CoCoOp({ baseURL: stack.url, apiKey: 'sk_not_a_key', fetch: recordingFetch(sent), sleep: noWait });
    const unauthorized = await badKey.tenant.retrieve().catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(AuthenticationError);
    expect(unauthorized).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(sent.map((s) => s.status)).toEqual([404, 422, 401]);
  });
});
