// The rest of the SDK's resources against the real local stack (`npm start`'s processes): webhook endpoint management
// (update, test event verified by webhooks.verify, deliveries by status, resend with the same webhook-id), API keys and
// the audit log, a multipart image upload, a zero-shot evaluation waited for, classify, text embeddings, and the usage
// report counting them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toyImageSet } from '../../lab/toyworld/image-sets.ts';
import { encodePng } from '../../lab/toyworld/png.ts';
import { AuthenticationError, CoCoOp, ConflictError, type WebhookDelivery } from '../../sdk/src/node/index.ts';
import { type WaitOptions, waitUntil } from '../helpers/wait-until.ts';
import type { WebhookReceiver } from '../helpers/webhook-receiver.ts';
import { type LocalStack, type StackWithReceiver, startStackWithReceiver } from './local-stack.ts';

const CLASSES = ['blue star', 'red square'];
let started: StackWithReceiver;
let stack: LocalStack;
let receiver: WebhookReceiver;
let client: CoCoOp;
let key: string;

beforeAll(async () => {
  started = await startStackWithReceiver('sdk-resources-', { WEBHOOK_RETRY_SCHEDULE: '1,1,1' });
  ({ stack, receiver } = started);
  key = await stack.newTenantKey('sdk resources');
  client = new CoCoOp({ baseURL: stack.url, apiKey: key });
}, 120_000);

afterAll(async () => {
  await started?.stop();
}, 30_000);

/** How the waits here poll: every 100 ms, up to 30 s, with the stack's last log lines if the deadline passes. */
const polling: WaitOptions = { timeoutMs: 30_000, intervalMs: 100, context: () => stack.lines.slice(-30).join('\n') };

describe('webhook endpoints', () => {
  it('update, a test event the receiver verifies, deliveries by status, a resend with the same webhook-id', async () => {
    const created = await client.webhookEndpoints.create({ url: `${receiver.url}/first`, events: ['training_job.succeeded'] });
    expect(created.secret).toMatch(/^whsec_/);
    const updated = await client.webhookEndpoints.update(created.id, { url: `${receiver.url}/hooks`, events: ['training_job.succeeded', 'evaluation.succeeded'] });
    expect(updated).toMatchObject({ id: created.id, url: `${receiver.url}/hooks`, events: ['training_job.succeeded', 'evaluation.succeeded'], enabled: true });
    expect((await client.webhookEndpoints.retrieve(created.id)).url).toBe(`${receiver.url}/hooks`);
    expect((await client.webhookEndpoints.list().toArray()).map((e) => e.id)).toEqual([created.id]);

    const queued = await client.webhookEndpoints.test(created.id);
    expect(queued).toMatchObject({ endpoint_id: created.id, event_type: 'webhook.test', status: 'pending' });
    const got = await waitUntil('the test event', () => receiver.at('/hooks')[0], polling);
    const event = client.webhooks.verify(got.body, got.headers, created.secret);
    expect(event).toMatchObject({ type: 'webhook.test', data: { endpoint_id: created.id, delivery_id: queued.id } });
    expect(got.headers['webhook-id']).toBe(queued.id);

    const succeeded = await waitUntil('the delivery to succeed', async () => (await client.webhookEndpoints.deliveries(created.id, { status: 'succeeded' }).toArray())[0], polling);
    expect(succeeded).toMatchObject({ id: queued.id, status: 'succeeded', attempt_count: 1 });
    expect(await client.webhookEndpoints.deliveries(created.id, { status: 'failed' }).toArray()).toEqual([]);

    const resent = await client.webhookEndpoints.resendDelivery(queued.id);
    expect(resent).toMatchObject({ id: queued.id, status: 'pending' });
    const again = await waitUntil('the resent delivery', () => receiver.at('/hooks')[1], polling);
    expect(again.headers['webhook-id']).toBe(queued.id);
    expect(again.body).toBe(got.body);
    const done: WebhookDelivery = await waitUntil('the resend to succeed', async () => {
      const [d] = await client.webhookEndpoints.deliveries(created.id).toArray();
      return d?.status === 'succeeded' && d.attempts.length === 2 ? d : undefined;
    }, polling);
    expect(done.attempts.map((a) => a.status_code)).toEqual([200, 200]);

    // Disabled: a test event is a 409 ConflictError; the secret rotates; deleted: gone from the list.
    await client.webhookEndpoints.update(created.id, { enabled: false });
    await expect(client.webhookEndpoints.test(created.id)).rejects.toBeInstanceOf(ConflictError);
    const rotated = await client.webhookEndpoints.rotateSecret(created.id);
    expect(rotated.secret).not.toBe(created.secret);
    await client.webhookEndpoints.delete(created.id);
    expect(await client.webhookEndpoints.list().toArray()).toEqual([]);
  }, 60_000);
});

describe('API keys and the audit log', () => {
  it('creates, lists and revokes a key (which then fails with AuthenticationError); the audit log shows both', async () => {
    const made = await client.apiKeys.create({ expires_in_days: 7 });
    const other = new CoCoOp({ baseURL: stack.url, apiKey: made.api_key });
    expect((await other.tenant.retrieve()).name).toBe('sdk resources');
    expect((await client.apiKeys.list().toArray()).map((k) => k.id)).toContain(made.id);
    await client.apiKeys.revoke(made.id);
    await expect(other.tenant.retrieve()).rejects.toBeInstanceOf(AuthenticationError);
    const actions = (await client.auditEvents.list().toArray()).filter((e) => e.target.id === made.id).map((e) => e.action);
    expect(actions).toEqual(['api_key.revoked', 'api_key.created']);
  });
});

describe('images, evaluations, inference and usage', () => {
  it('a multipart upload, a zero-shot evaluation waited for, classify and embeddings, counted by the usage report', async () => {
    const set = await toyImageSet('raster', 'test', 5, CLASSES, 3, 48);
    const pngs = await Promise.all(set.images.map(async (img) => new Uint8Array(await encodePng(img))));
    const ds = await client.datasets.create({ name: 'multipart' });
    for (const [c, label] of CLASSES.entries()) {
      const images = await client.datasets.uploadImages(ds.id, { label, files: pngs.filter((_, i) => set.labels[i] === c) });
      expect(images.map((img) => img.label)).toEqual([label, label, label]);
    }
    await client.datasets.finalize(ds.id);

    const queued = await client.evaluations.create({ model: 'zero-shot', dataset_id: ds.id, labels: [...CLASSES, 'green circle'] });
    expect(queued.status).toBe('queued');
    const evaluation = await client.evaluations.wait(queued.id, { pollInterval: 200 });
    expect(evaluation.status, JSON.stringify(evaluation.error)).toBe('succeeded');
    expect(evaluation.result!.n).toBe(6);
    expect((await client.evaluations.list().toArray()).map((e) => e.id)).toEqual([queued.id]);

    const classified = await client.classify({ model: 'zero-shot', image: new Blob([pngs[0]! as BlobPart]), labels: CLASSES });
    expect(classified.labels_source).toBe('request');
    expect(classified.predictions.map((p) => p.label).sort()).toEqual(CLASSES);
    const embeddings = await client.embeddings.create({ texts: ['a photo of a blue star.', 'a photo of a red square.'] });
    expect(embeddings.data.map((d) => d.text)).toEqual(['a photo of a blue star.', 'a photo of a red square.']);
    expect(new Set(embeddings.data.map((d) => d.embedding.length)).size).toBe(1);

    const today = new Date().toISOString().slice(0, 10);
    const usage = await waitUntil('the evaluation in the usage report', async () => {
      const u = await client.usage.retrieve({ from: today, to: today });
      return u.totals.evaluation_seconds['zero-shot'] > 0 ? u : undefined;
    }, polling);
    expect(usage.data.map((d) => d.date)).toEqual([today]);
    expect(usage.totals).toMatchObject({ classify_requests: 1, classify_images: 1, embedding_texts: 2 });
  }, 90_000);
});
