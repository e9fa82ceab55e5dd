// `cocoop remote` as a real child process against the real local stack of `npm start` (s3rver, the edge on Node with
// SQLite, a worker process with the inference server on the bundled toy CLIP): train on a toy-world folder and wait,
// classify with the model, read commands, folders refused before anything is created, a finalize the API refuses, API
// errors as one line, Ctrl-C while waiting, and the config file of login. Every figure the CLI prints is checked
// against what the SDK reads from the API, not against the CLI's own output.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toyImageSet, writeImageFolder } from '../../lab/toyworld/image-sets.ts';
import { CoCoOp, NotFoundError, type TrainingJob } from '../../sdk/src/node/index.ts';
import { type Run, cocoop } from '../helpers/cli.ts';
import { cleanEnv, launch } from '../helpers/processes.ts';
import { type WaitOptions, waitUntil } from '../helpers/wait-until.ts';
import { startReceiver } from '../helpers/webhook-receiver.ts';
import { type LocalStack, startLocalStack } from '../sdk/local-stack.ts';

/** Sorted: the API lists per-class scores in label order. */
const CLASSES = ['blue star', 'green circle', 'red square'];
let stack: LocalStack;
let key: string;
let client: CoCoOp;
let scratch: string;
/** 15 toy-world PNGs: <scratch>/shapes/<class>/NNN.png (5 per class: 4 to train on, 1 held out). */
let folder: string;
/** Credentials by environment; the config file and home are the test's own. */
let env: NodeJS.ProcessEnv;
/** Made by the train test, used by the ones after it. */
let trained: { jobId: string; modelId: string; datasetId: string } | undefined;

type Outcome = {
  job_id: string;
  status: string;
  model_id: string | null;
  dataset_id: string;
  train: unknown;
  validation: NonNullable<NonNullable<TrainingJob['result']>['validation']>;
  error: unknown;
};

function remote(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  return cocoop(['remote', ...args], 110_000, { ...env, ...extraEnv });
}

/** Exit 0 and the one JSON document on stdout; the key appears nowhere. */
async function remoteJson<T>(args: string[]): Promise<{ out: T; stderr: string }> {
  const r = await remote(args);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  expect(r.stdout + r.stderr).not.toContain(key);
  return { out: JSON.parse(r.stdout) as T, stderr: r.stderr };
}

/** Exit 1, nothing on stdout, and stderr's last line (the error). */
async function remoteError(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const r = await remote(args, extraEnv);
  expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).not.toContain(key);
  return r.stderr.trimEnd().split('\n');
}

/** How the waits here poll: every 100 ms, up to 30 s, with the stack's last log lines if the deadline passes. */
const polling: WaitOptions = { timeoutMs: 30_000, intervalMs: 100, context: () => stack.lines.slice(-30).join('\n') };

const datasetIds = async () => (await client.datasets.list({ limit: 100 }).toArray()).map((d) => d.id);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'cli-remote-'));
  folder = join(scratch, 'shapes');
  await writeImageFolder(await toyImageSet('night', 'train', 3, CLASSES, 5, 48), folder);
  stack = await startLocalStack();
  key = await stack.newTenantKey('cli tests');
  client = new CoCoOp({ baseURL: stack.url, apiKey: key });
  mkdirSync(join(scratch, 'home'));
  env = { COCOOP_BASE_URL: stack.url, COCOOP_API_KEY: key, XDG_CONFIG_HOME: join(scratch, 'xdg'), HOME: join(scratch, 'home') };
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}, 30_000);

describe('cocoop remote train and classify', () => {
  it('train FOLDER --epochs 2 --wait: progress on stderr; on stdout the model id and the validation figures of the job', async () => {
    const before = await datasetIds();
    const { out, stderr } = await remoteJson<Outcome>(['train', folder, '--epochs', '2', '--crop-scale', '0.5,1', '--name', 'cli shapes', '--wait']);

    // Progress (plain lines: stderr is no terminal here), the job's events, the validation summary.
    expect(stderr).toMatch(/^uploaded 15\/15 files, [\d.]+ KiB of [\d.]+ KiB, [\d.]+ (B|KiB|MiB)\/s$/m);
    expect(stderr).toMatch(/^ {2}\[info\] Epoch 2\/2: loss [\d.]+/m);
    expect(stderr).toMatch(/^progress: 100%, epoch 2\/2, .*loss [\d.]+, val_accuracy [\d.]+$/m);
    expect(stderr).not.toMatch(/\x1b/); // no terminal control characters

    // The API's view of the same job (read by the SDK).
    const job = await client.trainingJobs.retrieve(out.job_id);
    expect(job.status).toBe('succeeded');
    expect(job.hyperparameters).toMatchObject({ epochs: 2, crop_scale: [0.5, 1] });
    expect(out.status).toBe('succeeded');
    expect(out.model_id).toMatch(/^mdl_/);
    expect(out.model_id).toBe(job.model_id);
    expect(out.dataset_id).toBe(job.dataset_id);
    expect(out.error).toBeNull();
    const v = job.result!.validation!;
    expect(out.validation.accuracy).toBe(v.accuracy);
    expect(out.validation.zero_shot_accuracy).toBe(v.zero_shot_accuracy);
    expect(out.validation.per_class).toEqual(v.per_class);
    expect(out.train).toEqual(job.result!.train);
    // Consistent figures: one held-out image per class, the accuracy their n-weighted mean.
    expect(v.n).toBe(3);
    expect(v.per_class.map((c) => [c.label, c.n])).toEqual(CLASSES.map((c) => [c, 1]));
    expect(v.per_class.reduce((s, c) => s + c.accuracy * c.n, 0) / v.n).toBeCloseTo(v.accuracy, 12);
    // The summary on stderr shows the API's numbers.
    expect(stderr).toContain(`validation (3 held-out images): accuracy ${pct(v.accuracy)} vs zero-shot CLIP ${pct(v.zero_shot_accuracy)}`);
    for (const c of v.per_class) expect(stderr).toMatch(new RegExp(`^ {2}${c.label} +${pct(c.accuracy).replace('.', '\\.')} vs +${pct(c.zero_shot_accuracy).replace('.', '\\.')} {2}\\(n=1\\)$`, 'm'));

    // One new dataset: ready, named, holding the folder.
    expect((await datasetIds()).filter((id) => !before.includes(id))).toEqual([out.dataset_id]);
    const ds = await client.datasets.retrieve(out.dataset_id);
    expect(ds).toMatchObject({ name: 'cli shapes', status: 'ready', image_count: 15 });
    expect(ds.classes.map((c) => [c.name, c.image_count])).toEqual(CLASSES.map((c) => [c, 5]));
    trained = { jobId: job.id, modelId: job.model_id!, datasetId: ds.id };
  }, 150_000);

  it('classify --model <id> answers as POST /v1/classify does for the same images and labels', async () => {
    expect(trained, 'the train test made the model').toBeDefined();
    const images = ['red square/000.png', 'blue star/001.png'].map((f) => join(folder, f));
    const labels = ['red square', 'blue star', 'purple ring'];
    type Out = { model: string; labels_source: string; results: { image: string; predictions: { label: string; score: number }[] }[] };
    const { out } = await remoteJson<Out>(['classify', '--model', trained!.modelId, '--labels', labels.join(','), '--image', images[0]!, '--image', images[1]!]);
    const api = await client.classify({ model: trained!.modelId, images: images.map((f) => readFileSync(f)), labels });
    expect(out.model).toBe(trained!.modelId);
    expect(out.labels_source).toBe('request');
    expect(out.results.map((r) => r.image)).toEqual(images);
    out.results.forEach((r, i) => {
      const expected = api.results[i]!.predictions;
      expect(r.predictions.map((p) => p.label)).toEqual(expected.map((p) => p.label));
      r.predictions.forEach((p, j) => expect(p.score).toBeCloseTo(expected[j]!.score, 6));
      expect(r.predictions.reduce((s, p) => s + p.score, 0)).toBeCloseTo(1, 5);
    });

    // Without labels: the model's classes; --top-k as the API's top_k.
    const { out: top } = await remoteJson<Out>(['classify', '--model', trained!.modelId, '--image', images[0]!, '--top-k', '1']);
    const apiTop = await client.classify({ model: trained!.modelId, image: readFileSync(images[0]!), top_k: 1 });
    expect(top.labels_source).toBe('model');
    expect(top.results[0]!.predictions.map((p) => p.label)).toEqual(apiTop.predictions.map((p) => p.label));
  }, 60_000);

  it('jobs, models, datasets and evaluations read as the SDK reads them; models download checks the sha256', async () => {
    expect(trained, 'the train test made the model').toBeDefined();
    const { jobId, modelId, datasetId } = trained!;
    const json = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
    expect((await remoteJson(['jobs', 'get', jobId])).out).toEqual(json(await client.trainingJobs.retrieve(jobId)));
    expect((await remoteJson(['models', 'get', modelId])).out).toEqual(json(await client.models.retrieve(modelId)));
    expect((await remoteJson(['datasets', 'get', datasetId])).out).toEqual(json(await client.datasets.retrieve(datasetId)));
    const { out: list } = await remoteJson<{ data: { id: string }[]; has_more: boolean }>(['jobs', 'list', '--limit', '1']);
    expect(list.data.map((j) => j.id)).toEqual([jobId]);
    const { out: events } = await remoteJson<{ data: { id: string }[] }>(['jobs', 'events', jobId]);
    expect(events.data.map((e) => e.id)).toEqual((await client.trainingJobs.events(jobId).toArray()).map((e) => e.id));

    const file = join(scratch, 'adapter.safetensors');
    const { out: downloaded } = await remoteJson<{ id: string; out: string; bytes: number; sha256: string }>(['models', 'download', modelId, '--out', file]);
    const model = await client.models.retrieve(modelId);
    const bytes = readFileSync(file);
    expect(downloaded).toEqual({ id: modelId, out: file, bytes: model.artifact.bytes, sha256: model.artifact.sha256 });
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(model.artifact.sha256);

    const { out: evaluation } = await remoteJson<{ id: string; status: string; result: { n: number; accuracy: number } }>(['evaluations', 'create', '--model', modelId, '--dataset', datasetId, '--wait']);
    expect(evaluation.status).toBe('succeeded');
    expect(evaluation).toEqual(json(await client.evaluations.retrieve(evaluation.id)));
    expect(evaluation.result.n).toBe(15);
    expect((await remoteJson(['evaluations', 'get', evaluation.id])).out).toEqual(evaluation);
    expect((await remoteJson<{ data: { id: string }[] }>(['evaluations', 'list'])).out.data.map((e) => e.id)).toEqual([evaluation.id]);
  }, 90_000);
});

describe('cocoop remote: refusals and errors', () => {
  it('a folder with no images, a file that is not an image, or no folder at all: one line, exit 1, no dataset created', async () => {
    const empty = join(scratch, 'empty');
    mkdirSync(empty);
    const bad = join(scratch, 'bad');
    mkdirSync(join(bad, 'red square'), { recursive: true });
    mkdirSync(join(bad, 'blue star'));
    writeFileSync(join(bad, 'red square', '000.png'), readFileSync(join(folder, 'red square', '000.png')));
    writeFileSync(join(bad, 'blue star', '000.png'), readFileSync(join(folder, 'blue star', '000.png')));
    writeFileSync(join(bad, 'blue star', 'notes.png'), 'not an image at all');
    const before = await datasetIds();

    expect(await remoteError(['train', empty, '--wait'])).toEqual([
      `error: ${empty} cannot be uploaded (nothing was created): the folder is empty (it needs one sub-folder of images per class)`,
    ]);
    expect(await remoteError(['train', bad, '--epochs', '1'])).toEqual([`error: ${bad} cannot be uploaded (nothing was created): blue star/notes.png: not a JPEG, PNG or WebP image`]);
    const missing = await remoteError(['train', join(scratch, 'no-such-folder')]);
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatch(/cannot be uploaded \(nothing was created\): cannot read the folder/);
    expect(await datasetIds()).toEqual(before);
  });

  it("a folder the API refuses to finalize (one class): the API's reasons in the error line, the new dataset deleted", async () => {
    const single = join(scratch, 'single');
    mkdirSync(join(single, 'red square'), { recursive: true });
    for (const f of ['000.png', '001.png']) writeFileSync(join(single, 'red square', f), readFileSync(join(folder, 'red square', f)));
    const before = await datasetIds();
    const lines = await remoteError(['train', single, '--wait']);
    expect(lines.at(-1)).toMatch(/^error: validation_failed: Dataset ds_\w+ cannot be finalized: training needs images of at least 2 classes, this dataset has 1\./);
    const id = lines.at(-1)!.match(/Dataset (ds_\w+)/)![1];
    expect(lines).toContain(`deleted the unfinished dataset ${id}`);
    expect(await datasetIds()).toEqual(before);
  });

  it('an API error is one line with its code, message and param; exit 1', async () => {
    const image = join(folder, 'red square', '000.png');
    const unknownModel = await remoteError(['classify', '--model', 'mdl_doesnotexist', '--labels', 'a,b', '--image', image]);
    expect(unknownModel).toHaveLength(1);
    expect(unknownModel[0]).toMatch(/^error: not_found: No model with id "mdl_doesnotexist" in your tenant.* \(model\)$/);
    const [noLabels] = await remoteError(['classify', '--model', 'zero-shot', '--image', image]);
    expect(noLabels).toMatch(/^error: validation_failed: .*"labels".* \(labels\)$/);
    expect(await remoteError(['jobs', 'get', 'job_doesnotexist'])).toEqual([expect.stringMatching(/^error: not_found: /)]);
    expect(await remoteError(['jobs', 'get', 'job_x'], { COCOOP_BASE_URL: 'http://127.0.0.1:9' })).toEqual([
      expect.stringMatching(/^error: cannot reach the API at http:\/\/127\.0\.0\.1:9: /),
    ]);
  });
});

describe('cocoop remote: Ctrl-C while waiting', () => {
  /** `remote train --dataset <the trained dataset> --wait ...` until it says the job was created, then SIGINT. */
  async function interruptTrain(extra: string[]): Promise<{ code: number | null; lines: string[]; jobId: string; out: { job_id: string; status: string } }> {
    const child = launch(['bin/cocoop.mjs', 'remote', 'train', '--dataset', trained!.datasetId, '--wait', ...extra], cleanEnv({ ...env, COCOOP_DEBUG: '' }));
    const exitedEarly = child.exited.then((code) => Promise.reject(new Error(`exited ${code} before creating the job:\n${child.lines.join('\n')}`)));
    const jobId = (await Promise.race([child.waitFor(/^training job (job_\w+) queued/, 30_000), exitedEarly]))[1]!;
    child.child.kill('SIGINT');
    const code = await child.exited;
    const json = child.lines.find((l) => l.startsWith('{'));
    expect(json, child.lines.join('\n')).toBeDefined();
    return { code, lines: child.lines, jobId, out: JSON.parse(json!) as { job_id: string; status: string } };
  }

  it('leaves the job running and says how to follow it; jobs events --follow then follows it to the end; --cancel-on-interrupt cancels', async () => {
    expect(trained, 'the train test made the dataset').toBeDefined();
    // 100 epochs (seconds of training): the job is unfinished when the signal arrives (the worker takes one job at a time).
    const kept = await interruptTrain(['--epochs', '100']);
    expect(kept.code).toBe(130);
    expect(kept.out.job_id).toBe(kept.jobId);
    expect(kept.lines.find((l) => l.startsWith('interrupted:'))).toBe(`interrupted: job ${kept.jobId} keeps running; follow it with: cocoop remote jobs events ${kept.jobId} --follow`);
    expect(['cancelling', 'cancelled']).not.toContain((await client.trainingJobs.retrieve(kept.jobId)).status);

    const cancelled = await interruptTrain(['--epochs', '1', '--cancel-on-interrupt']);
    expect(cancelled.code).toBe(130);
    expect(cancelled.lines.find((l) => l.startsWith('interrupted:'))).toMatch(new RegExp(`^interrupted: asked to cancel job ${cancelled.jobId} \\(now (cancelled|cancelling)\\)$`));
    expect((await client.trainingJobs.wait(cancelled.jobId, { pollInterval: 200 })).status).toBe('cancelled');

    const { out, stderr } = await remoteJson<Outcome & { events: { id: string }[] }>(['jobs', 'events', kept.jobId, '--follow']);
    const job = await client.trainingJobs.retrieve(kept.jobId);
    expect(job.status).toBe('succeeded');
    expect(out).toMatchObject({ job_id: kept.jobId, status: 'succeeded', model_id: job.model_id });
    expect(out.validation.accuracy).toBe(job.result!.validation!.accuracy);
    expect(out.events.map((e) => e.id)).toEqual((await client.trainingJobs.events(kept.jobId).toArray()).map((e) => e.id));
    expect(stderr).toMatch(/^ {2}\[info\] Epoch 100\/100: /m);

    // Without --wait: the job as created, at once.
    const { out: queued } = await remoteJson<TrainingJob>(['train', '--dataset', trained!.datasetId, '--epochs', '1', '--method', 'coop']);
    expect(queued).toMatchObject({ dataset_id: trained!.datasetId, method: 'coop', hyperparameters: { epochs: 1 } });
    expect(['queued', 'running']).toContain(queued.status);
    expect((await client.trainingJobs.wait(queued.id, { pollInterval: 200 })).status).toBe('succeeded');
  }, 120_000);
});

describe('cocoop remote: webhooks, usage, deletes', () => {
  it('webhooks create/get/list/test/deliveries/resend/rotate-secret/update/delete, usage, jobs cancel of a finished job, datasets and models delete', async () => {
    expect(trained, 'the train test made the model').toBeDefined();
    const receiver = await startReceiver();
    try {
      type Endpoint = { id: string; url: string; events: string[]; enabled: boolean; secret?: string };
      const { out: created } = await remoteJson<Endpoint>(['webhooks', 'create', '--url', `${receiver.url}/cli`, '--events', 'training_job.succeeded,evaluation.succeeded']);
      expect(created.id).toMatch(/^whe_/);
      expect(created.secret).toMatch(/^whsec_/);
      expect(created.events).toEqual(['training_job.succeeded', 'evaluation.succeeded']);
      const { secret: _secret, ...endpoint } = created;
      expect((await remoteJson(['webhooks', 'get', created.id])).out).toEqual(endpoint);
      expect((await remoteJson<{ data: Endpoint[] }>(['webhooks', 'list'])).out.data.map((e) => e.id)).toEqual([created.id]);

      type Delivery = { id: string; status: string; event_type: string };
      const { out: test } = await remoteJson<Delivery>(['webhooks', 'test', created.id]);
      expect(test).toMatchObject({ event_type: 'webhook.test', status: 'pending' });
      const delivered = async () => (await client.webhookEndpoints.deliveries(created.id).toArray()).find((d) => d.id === test.id && d.status === 'succeeded');
      await waitUntil('the test event delivered', delivered, polling);
      expect(receiver.at('/cli').map((r) => r.headers['webhook-id'])).toEqual([test.id]);
      const { out: deliveries } = await remoteJson<{ data: Delivery[] }>(['webhooks', 'deliveries', created.id, '--status', 'succeeded']);
      expect(deliveries.data.map((d) => [d.id, d.status])).toEqual([[test.id, 'succeeded']]);
      expect((await remoteJson<Delivery>(['webhooks', 'resend', test.id])).out).toMatchObject({ id: test.id, status: 'pending' });
      await waitUntil('the resent test event at /cli', () => receiver.at('/cli').length === 2, polling);
      expect(receiver.at('/cli').map((r) => r.headers['webhook-id'])).toEqual([test.id, test.id]);

      const { out: rotated } = await remoteJson<{ id: string; secret: string }>(['webhooks', 'rotate-secret', created.id]);
      expect(rotated.id).toBe(created.id);
      expect(rotated.secret).not.toBe(created.secret);
      expect((await remoteJson<Endpoint>(['webhooks', 'update', created.id, '--disable'])).out.enabled).toBe(false);
      expect((await client.webhookEndpoints.retrieve(created.id)).enabled).toBe(false);
      expect((await remoteJson(['webhooks', 'delete', created.id])).out).toEqual({ id: created.id, deleted: true });
      expect(await client.webhookEndpoints.list().toArray()).toEqual([]);
    } finally {
      await receiver.close();
    }

    const today = new Date().toISOString().slice(0, 10);
    const { out: usage } = await remoteJson(['usage', '--from', today, '--to', today]);
    expect(usage).toEqual(JSON.parse(JSON.stringify(await client.usage.retrieve({ from: today, to: today }))));

    expect(await remoteError(['jobs', 'cancel', trained!.jobId])).toEqual([expect.stringMatching(/^error: conflict: /)]);
    const spare = await client.datasets.create({ name: 'to delete' });
    expect((await remoteJson(['datasets', 'delete', spare.id])).out).toEqual({ id: spare.id, deleted: true });
    expect((await remoteJson(['models', 'delete', trained!.modelId])).out).toEqual({ id: trained!.modelId, deleted: true });
    expect((await client.models.list().toArray()).map((m) => m.id)).not.toContain(trained!.modelId);
    expect(await client.datasets.retrieve(spare.id).catch((e: unknown) => e)).toBeInstanceOf(NotFoundError);
  }, 90_000);
});

describe('cocoop remote login / logout', () => {
  it('login writes the config file 0600 under XDG_CONFIG_HOME; a file others can read is refused; options and environment come first; logout removes it', async () => {
    const path = join(scratch, 'xdg', 'cocoop', 'config.json');
    const noEnv = { COCOOP_BASE_URL: '', COCOOP_API_KEY: '' };
    const wrongKey = `ck_live_${'x'.repeat(32)}`;

    expect(await remoteError(['login', '--base-url', stack.url, '--api-key', wrongKey], noEnv)).toEqual([expect.stringMatching(/^error: unauthorized: /)]);
    expect(existsSync(path)).toBe(false);

    const login = await remote(['login', '--base-url', stack.url, '--api-key', key], noEnv);
    expect(login.code, login.stderr).toBe(0);
    const me = await client.tenant.retrieve();
    expect(JSON.parse(login.stdout)).toEqual({ config: path, base_url: stack.url, api_key: `${key.slice(0, 12)}…`, tenant: { id: me.id, name: me.name } });
    expect(login.stdout + login.stderr).not.toContain(key);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(scratch, 'xdg', 'cocoop')).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ base_url: stack.url, api_key: key });

    // The file alone is enough; whoami shows the key's prefix only.
    const whoami = await remote(['whoami'], noEnv);
    expect(whoami.code, whoami.stderr).toBe(0);
    expect(JSON.parse(whoami.stdout)).toMatchObject({ base_url: stack.url, api_key: `${key.slice(0, 12)}…`, tenant: { id: me.id } });
    expect(whoami.stdout).not.toContain(key);

    // An option or the environment wins over the file.
    expect(await remoteError(['datasets', 'list', '--api-key', wrongKey], noEnv)).toEqual([expect.stringMatching(/^error: unauthorized: /)]);
    expect(await remoteError(['datasets', 'list'], { ...noEnv, COCOOP_API_KEY: wrongKey })).toEqual([expect.stringMatching(/^error: unauthorized: /)]);

    chmodSync(path, 0o644);
    expect(await remoteError(['datasets', 'list'], noEnv)).toEqual([
      `error: ${path} is accessible by group or others (mode 0644), so it is not read: run chmod 600 ${path}`,
    ]);
    // A second login replaces it with a 0600 file.
    expect((await remote(['login', '--base-url', stack.url, '--api-key', key, '--no-verify'], noEnv)).code).toBe(0);
    expect(statSync(path).mode & 0o777).toBe(0o600);

    const logout = await remote(['logout'], noEnv);
    expect(JSON.parse(logout.stdout)).toEqual({ config: path, removed: true });
    expect(existsSync(path)).toBe(false);
    expect(await remoteError(['datasets', 'list'], noEnv)).toEqual([expect.stringMatching(/^error: no API base URL: pass --base-url URL, set COCOOP_BASE_URL, or run cocoop remote login/)]);
  }, 60_000);
});
