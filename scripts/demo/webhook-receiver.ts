// The demo's webhook receiver: node:http on a loopback port, every delivery verified with the Standard Webhooks
// reference verifier (the `standardwebhooks` package) against the endpoint's secret. Deliveries that fail
// verification are answered 400 and recorded as such.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface VerifiedDelivery {
  webhookId: string;
  type: string;
  data: { id?: string; status?: string; model_id?: string | null; metrics?: Record<string, number> };
  receivedAt: number;
}

export interface DemoReceiver {
  url: string;
  /** Set once the endpoint is registered (the secret comes back from the API). */
  setSecret(secret: string): void;
  verified: VerifiedDelivery[];
  rejected: { reason: string; receivedAt: number }[];
  /** The first verified delivery for `jobId` of one of `types`. */
  waitFor(jobId: string, types: string[], timeoutMs: number): Promise<VerifiedDelivery>;
  close(): Promise<void>;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string {
  const v = headers[name];
  return Array.isArray(v) ? v[0] ?? '' : v ?? '';
}

export async function startDemoReceiver(host = '127.0.0.1', path = '/webhooks/cocoop'): Promise<DemoReceiver> {
  let verifier: Webhook | null = null;
  const verified: VerifiedDelivery[] = [];
  const rejected: { reason: string; receivedAt: number }[] = [];
  const listeners = new Set<() => void>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const receivedAt = Date.now();
      if (req.method !== 'POST' || req.url !== path || !verifier) {
        rejected.push({ reason: `unexpected ${req.method} ${req.url}`, receivedAt });
        res.writeHead(404).end();
        return;
      }
      try {
        const payload = verifier.verify(body, {
          'webhook-id': headerValue(req.headers, 'webhook-id'),
          'webhook-timestamp': headerValue(req.headers, 'webhook-timestamp'),
          'webhook-signature': headerValue(req.headers, 'webhook-signature'),
        }) as { type: string; data: VerifiedDelivery['data'] };
        verified.push({ webhookId: headerValue(req.headers, 'webhook-id'), type: payload.type, data: payload.data, receivedAt });
        res.writeHead(204).end();
      } catch (err) {
        rejected.push({ reason: (err as Error).message, receivedAt });
        res.writeHead(400).end();
      }
      for (const l of listeners) l();
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, host, ok);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${host}:${port}${path}`,
    setSecret(secret) {
      verifier = new Webhook(secret);
    },
    verified,
    rejected,
    waitFor(jobId, types, timeoutMs) {
      return new Promise((ok, fail) => {
        const check = () => {
          const hit = verified.find((d) => d.data.id === jobId && types.includes(d.type));
          if (!hit) return;
          listeners.delete(check);
          clearTimeout(timer);
          ok(hit);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          const why = rejected.length ? ` (${rejected.length} deliveries failed verification: ${rejected[0]!.reason})` : '';
          fail(new Error(`no verified ${types.join(' / ')} webhook for ${jobId} within ${Math.round(timeoutMs / 1000)} s${why}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
