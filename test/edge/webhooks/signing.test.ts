// Standard Webhooks signing with Web Crypto, verified by the `standardwebhooks` package as a receiver would.
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { newWebhookSecret, secretKeyBytes, signWebhook, webhookHeaders } from '../../../edge/webhooks/signing.ts';

const body = JSON.stringify({ type: 'training_job.succeeded', timestamp: '2024-01-01T00:00:00.000Z', data: { id: 'job_1' } });

describe('webhook signing', () => {
  it('makes whsec_ secrets of 32 random bytes', () => {
    const a = newWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(secretKeyBytes(a)).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(a);
    expect(() => secretKeyBytes('whsec_abc')).toThrow();
    expect(() => secretKeyBytes('sk_abc')).toThrow();
  });

  it('matches HMAC-SHA256 over "{id}.{timestamp}.{body}"', async () => {
    const secret = newWebhookSecret();
    const sig = await signWebhook(secret, 'msg_1', 1700000000, body);
    const expected = createHmac('sha256', Buffer.from(secretKeyBytes(secret))).update(`msg_1.1700000000.${body}`).digest('base64');
    expect(sig).toBe(`v1,${expected}`);
  });

  it('is accepted by the standardwebhooks verifier', async () => {
    const secret = newWebhookSecret();
    const headers = await webhookHeaders([secret], 'msg_abc', Math.floor(Date.now() / 1000), body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(secret).verify(body + ' ', headers)).toThrow();
  });

  it('carries one signature per secret during rotation; either secret verifies', async () => {
    const [current, previous] = [newWebhookSecret(), newWebhookSecret()];
    const headers = await webhookHeaders([current, previous], 'msg_rot', Math.floor(Date.now() / 1000), body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(headers['webhook-signature']).toMatch(/^v1,\S+ v1,\S+$/);
    expect(new Webhook(current).verify(body, headers)).toBeTruthy();
    expect(new Webhook(previous).verify(body, headers)).toBeTruthy();
  });
});
