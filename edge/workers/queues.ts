// The WebhookQueue port over a Cloudflare Queues producer binding: JSON messages, at most 100 per sendBatch.
import type { WebhookMessage, WebhookQueue } from '../ports.ts';
import { QUEUE_SEND_MAX } from '../webhooks/queue.ts';
import type { QueueBinding } from './bindings.ts';

export class CloudflareQueue implements WebhookQueue {
  constructor(readonly binding: QueueBinding) {}

  async send(messages: WebhookMessage[], delaySeconds?: number): Promise<void> {
    for (let i = 0; i < messages.length; i += QUEUE_SEND_MAX) {
      const chunk = messages.slice(i, i + QUEUE_SEND_MAX).map((body) => ({ body, contentType: 'json' as const }));
      // A delay of 0 is the queue's default delivery.
      await this.binding.sendBatch(chunk, delaySeconds ? { delaySeconds: Math.ceil(delaySeconds) } : undefined);
    }
  }
}
