// Verifying the webhooks the API sends (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`
// = v1,base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}"))) with the `standardwebhooks` library, which is plain
// JavaScript (no Node APIs), so this runs on Workers too. Needs no API key: a receiver may use it without a client.
import { Webhook, WebhookVerificationError as StandardWebhookVerificationError } from 'standardwebhooks';
import { CoCoOpError } from './core/errors.ts';
import type { Evaluation, TrainingJob } from './types.ts';

/** The signature, the timestamp (older or newer than 5 minutes) or the headers did not check out. */
export class WebhookVerificationError extends CoCoOpError {}

/** A job's webhook `data`. */
export interface TrainingJobWebhookData {
  id: string;
  status: TrainingJob['status'];
  model_id: string | null;
  metrics: Record<string, number>;
}

/** The verified body of a webhook: what happened (`type`), when it was sent, and the object it is about. */
export type WebhookEvent =
  | { type: 'training_job.started' | 'training_job.succeeded' | 'training_job.failed' | 'training_job.cancelled'; timestamp: string; data: TrainingJobWebhookData }
  | { type: 'evaluation.succeeded' | 'evaluation.failed'; timestamp: string; data: Evaluation }
  | { type: 'webhook.test'; timestamp: string; data: { endpoint_id: string; delivery_id: string } };

/** Request headers as a fetch Request has them, or as Node's IncomingMessage does. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

function header(headers: WebhookHeaders, name: string): string {
  if (headers instanceof Headers) return headers.get(name) ?? '';
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return Array.isArray(v) ? v.join(' ') : (v ?? '');
  return '';
}

/**
 * Checks that `body` (the raw request body, exactly as received: not re-serialized JSON) was signed with `secret`
 * (`whsec_…`, from webhookEndpoints.create or rotateSecret) and sent within the last 5 minutes; returns the parsed
 * event, or throws WebhookVerificationError. During a secret rotation either secret verifies.
 */
export function verifyWebhook(body: string | Uint8Array | ArrayBuffer, headers: WebhookHeaders, secret: string): WebhookEvent {
  const text = typeof body === 'string' ? body : new TextDecoder('utf-8', { fatal: false }).decode(body);
  let webhook: Webhook;
  try {
    webhook = new Webhook(secret);
  } catch (err) {
    throw new WebhookVerificationError(`Invalid webhook secret: ${(err as Error).message}`, { cause: err });
  }
  try {
    return webhook.verify(text, {
      'webhook-id': header(headers, 'webhook-id'),
      'webhook-timestamp': header(headers, 'webhook-timestamp'),
      'webhook-signature': header(headers, 'webhook-signature'),
    }) as WebhookEvent;
  } catch (err) {
    if (err instanceof StandardWebhookVerificationError) throw new WebhookVerificationError(err.message, { cause: err });
    // A body that verifies but is not JSON (the API never sends one).
    throw new WebhookVerificationError(`Webhook body is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

export class Webhooks {
  /** See verifyWebhook. */
  verify(body: string | Uint8Array | ArrayBuffer, headers: WebhookHeaders, secret: string): WebhookEvent {
    return verifyWebhook(body, headers, secret);
  }
}
