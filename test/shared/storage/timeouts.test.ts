// A stalled S3 (connections accepted, never answered) fails every blob-store call instead of hanging it: a heartbeat,
// an upload or a request at the edge waits at most the store's timeout. Both adapters, against a real TCP server that
// accepts and then stays silent.
import { type Server, type Socket, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Aws4fetchBlobStore } from '../../../shared/storage/aws4fetch-blob-store.ts';
import { S3BlobStore } from '../../../shared/storage/s3-blob-store.ts';
import { s3OptionsFromEnv } from '../../../shared/storage/s3-env.ts';

let silent: Server;
let endpoint = '';
const sockets: Socket[] = [];

beforeAll(async () => {
  silent = createServer((s) => void sockets.push(s)); // reads nothing, writes nothing
  await new Promise<void>((ok) => silent.listen(0, '127.0.0.1', ok));
  endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((ok) => silent.close(() => ok()));
});

const options = { endpoint: '', region: 'us-east-1', bucket: 'b', accessKeyId: 'k', secretAccessKey: 's', forcePathStyle: true, timeoutMs: 300 };

describe('blob-store calls against a silent S3 fail after the timeout', () => {
  it('S3BlobStore (AWS SDK): get, head, put and list reject', async () => {
    const store = new S3BlobStore({ ...options, endpoint });
    try {
      for (const call of [() => store.get('k'), () => store.head('k'), () => store.put('k', new Uint8Array([1]), 'application/octet-stream'), () => store.list('k')]) {
        await expect(call()).rejects.toThrow(/S3 \w+ b\/k failed/);
      }
    } finally {
      store.client.destroy();
    }
  }, 30_000);

  it('Aws4fetchBlobStore (Workers): get, head, put and list reject', async () => {
    const store = new Aws4fetchBlobStore({ ...options, endpoint, retries: 0 });
    for (const call of [() => store.get('k'), () => store.head('k'), () => store.put('k', new Uint8Array([1]), 'application/octet-stream'), () => store.list('k')]) {
      await expect(call()).rejects.toThrow(/timeout|abort/i);
    }
  }, 30_000);

  it('S3_TIMEOUT_MS sets the timeout of every process (default 30 s when unset)', () => {
    const env = { S3_BUCKET: 'b', S3_ENDPOINT: endpoint, S3_TIMEOUT_MS: '1500' };
    expect(s3OptionsFromEnv(env)?.timeoutMs).toBe(1500);
    expect(s3OptionsFromEnv({ S3_BUCKET: 'b' })?.timeoutMs).toBeUndefined();
  });
});
