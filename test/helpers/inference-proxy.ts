// The real inference server (gpu-worker/serve on the bundled toy CLIP, adapters read from `blobs`) behind a
// pass-through HTTP proxy on a random loopback port, for edge tests that watch what reaches the server or inject a
// fault it cannot produce. `handle` gets each request with its body read and answers it, usually by forwarding.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { BlobStore } from '../../edge/ports.ts';
import { type RunningInferenceServer, startInferenceServer } from '../../gpu-worker/serve/main.ts';
import { WORKER_TOKEN } from './edge.ts';

export const TOY_MODEL_DIR = resolve(process.cwd(), 'models/toy-clip');

/** Sends the request on to the inference server (same path, authorization and body); its answer. */
export type Forward = () => Promise<Response>;
export type ProxyHandler = (req: IncomingMessage, res: ServerResponse, raw: string, forward: Forward) => Promise<unknown>;

/** Forwards and relays the answer's status and body. */
export async function relay(res: ServerResponse, forward: Forward): Promise<void> {
  const answer = await forward();
  res.writeHead(answer.status, { 'content-type': 'application/json' });
  res.end(await answer.text());
}

export interface ProxiedInference {
  inference: RunningInferenceServer;
  /** The proxy's URL: the edge's inferenceUrl. */
  url: string;
  close(): Promise<void>;
}

export async function startProxiedInference(blobs: BlobStore, handle: ProxyHandler = (_req, res, _raw, forward) => relay(res, forward)): Promise<ProxiedInference> {
  const quiet = () => {};
  const inference = await startInferenceServer({ modelDir: TOY_MODEL_DIR, workerToken: WORKER_TOKEN, blobs, port: 0, ort: { provider: 'cpu', log: quiet } });
  let proxy: Server;
  try {
    proxy = createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (d) => (raw += d));
      req.on('end', () => {
        const forward: Forward = () =>
          fetch(inference.url + req.url, { method: 'POST', headers: { authorization: req.headers.authorization ?? '', 'content-type': 'application/json' }, body: raw });
        void handle(req, res, raw, forward).catch((err) => (res.writeHead(500), res.end(String(err))));
      });
    });
    await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
  } catch (err) {
    await inference.close();
    throw err;
  }
  return {
    inference,
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    async close() {
      await new Promise<void>((ok) => proxy.close(() => ok()));
      await inference.close();
    },
  };
}
