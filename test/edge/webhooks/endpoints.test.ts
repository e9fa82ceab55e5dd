// Rotating an endpoint's secret twice within 24 h (docs/API.md: "Rotating twice within 24 h drops the oldest
// secret"): a real delivery to a real receiver, signed after the second rotation, verifies with the newest secret and
// the one rotated out second (its 24 h overlap still running), and no longer with the first one. Real HTTP, SQLite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { dispatchDueWebhooks } from '../../../edge/webhooks/dispatcher.ts';
import { outboxStatements } from '../../../edge/webhooks/outbox.ts';
import { webhookSettings } from '../../../edge/webhooks/settings.ts';
import { type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { type WebhookReceiver, startReceiver } from '../../helpers/webhook-receiver.ts';

let edge: TestEdge; // local mode: a loopback receiver is allowed
let rx: WebhookReceiver;
beforeAll(async () => {
  [edge, rx] = await Promise.all([startTestEdge({ localMode: true }), startReceiver()]);
});
afterAll(async () => {
  await Promise.all([edge?.close(), rx?.close()]);
});

const verifies = (secret: string, r: { body: string; headers: Record<string, unknown> }): boolean => {
  try {
    new Webhook(secret).verify(r.body, r.headers as Record<string, string>);
    return true;
  } catch {
    return false;
  }
};

describe('rotate-secret twice within 24 h', () => {
  it('the newest and the second-newest secrets sign; the first one no longer does', async () => {
    const t = await edge.createTenant();
    rx.on('/twice', (_r, res) => void res.writeHead(200).end());
    const created = await edge.fetch('/v1/webhook-endpoints', { method: 'POST', headers: jsonHeaders(t.api_key), body: JSON.stringify({ url: `${rx.url}/twice` }) });
    expect(created.status).toBe(201);
    const ep = (await created.json()) as { id: string; secret: string };
    const rotate = async () => {
      const res = await edge.fetch(`/v1/webhook-endpoints/${ep.id}/rotate-secret`, { method: 'POST', headers: bearer(t.api_key) });
      expect(res.status).toBe(200);
      return ((await res.json()) as { secret: string }).secret;
    };
    const second = await rotate();
    const third = await rotate();
    expect(new Set([ep.secret, second, third]).size).toBe(3);

    await edge.db.batch(await outboxStatements(edge.db, t.id, 'training_job.succeeded', { id: 'job_1' }, new Date()));
    await dispatchDueWebhooks(edge.ports, webhookSettings({ localMode: true, retryScheduleSeconds: [0], timeoutMs: 5000 }));
    const got = rx.at('/twice');
    expect(got).toHaveLength(1);
    const r = { body: got[0]!.body, headers: got[0]!.headers as Record<string, unknown> };
    // Two signatures: the current secret's and the overlapping one's.
    expect(String(r.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verifies(third, r)).toBe(true);
    expect(verifies(second, r)).toBe(true);
    expect(verifies(ep.secret, r)).toBe(false);
  });
});
