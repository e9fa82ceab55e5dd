// A real webhook receiver for tests: node:http on 127.0.0.1, a scripted answer per request, and a log
// of what arrived (path, headers, raw body).
import { type IncomingHttpHeaders, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Answers one request; `n` counts the requests to the same path (1-based). */
export type ReceiverHandler = (req: ReceivedRequest, res: ServerResponse, n: number) => void | Promise<void>;

export interface WebhookReceiver {
  url: string;
  received: ReceivedRequest[];
  /** Requests to one path. */
  at(path: string): ReceivedRequest[];
  on(path: string, handler: ReceiverHandler): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedRequest[] = [];
  const handlers = new Map<string, ReceiverHandler>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: ReceivedRequest = { path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      const n = received.filter((x) => x.path === r.path).length;
      const h = handlers.get(r.path);
      if (!h) {
        res.writeHead(200).end('ok');
        return;
      }
      Promise.resolve(h(r, res, n)).catch(() => res.writeHead(500).end());
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    at: (path) => received.filter((r) => r.path === path),
    on: (path, handler) => handlers.set(path, handler),
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
