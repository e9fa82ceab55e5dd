// The Node entry: startEdge with the real S3 blob store (s3rver) and cache, and the CLI (`node
// bin/run-ts.mjs edge/node/server.ts`) with a generated admin token, stopped by SIGTERM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEdge } from '../../../edge/node/server.ts';
import { MemoryCache } from '../../../edge/node/memory-cache.ts';
import { S3BlobStore } from '../../../shared/storage/s3-blob-store.ts';
import { ADMIN_TOKEN, WORKER_TOKEN } from '../../helpers/edge.ts';
import { type RunningS3rver, s3Config, startS3rver } from '../../helpers/s3rver.ts';
import { useTmpDirs } from '../../helpers/tmp.ts';

const tmp = useTmpDirs('edge-node-');
let s3: RunningS3rver;
beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => {
  await s3?.stop();
});

describe('startEdge', () => {
  it('builds SQLite (migrated), S3BlobStore and MemoryCache ports and serves the app', async () => {
    const dataDir = join(tmp(), 'nested', 'data');
    const edge = await startEdge({
      dataDir,
      port: 0,
      config: { adminToken: ADMIN_TOKEN, workerToken: WORKER_TOKEN, localMode: true },
      s3: s3Config(s3.endpoint, 'edge-created-bucket'),
    });
    try {
      expect(edge.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(edge.ports.blobs).toBeInstanceOf(S3BlobStore);
      expect(edge.ports.cache).toBeInstanceOf(MemoryCache);
      // localMode created the bucket: the store works.
      await edge.ports.blobs.put('probe', new Uint8Array([1, 2, 3]), 'application/octet-stream');
      expect(await edge.ports.blobs.get('probe')).toEqual(new Uint8Array([1, 2, 3]));
      const migrations = edge.db.raw.prepare('SELECT name FROM _migrations ORDER BY name').all() as { name: string }[];
      expect(migrations.map((m) => m.name)).toEqual(expect.arrayContaining(['0001_init.sql', '0002_tenant_indexes.sql']));
      expect((await fetch(`${edge.url}/healthz`)).status).toBe(200);
    } finally {
      await edge.close();
    }
    // Data survives a restart (same file, migrations not re-applied).
    const again = await startEdge({
      dataDir,
      port: 0,
      config: { adminToken: ADMIN_TOKEN, workerToken: WORKER_TOKEN },
      s3: s3Config(s3.endpoint, 'edge-created-bucket'),
    });
    try {
      expect((await fetch(`${again.url}/healthz`)).status).toBe(200);
    } finally {
      await again.close();
    }
  });

  it('rejects an invalid configuration before opening anything', async () => {
    await expect(
      startEdge({ dataDir: tmp(), port: 0, config: { adminToken: 'short', workerToken: WORKER_TOKEN }, s3: s3Config(s3.endpoint, s3.bucket) }),
    ).rejects.toThrow(/adminToken/);
  });
});

describe('edge/node/server.ts as a command', () => {
  it('generates and prints an admin token, serves, and exits 0 on SIGTERM', async () => {
    const dataDir = tmp();
    const child = spawn(process.execPath, ['bin/run-ts.mjs', 'edge/node/server.ts'], {
      cwd: join(import.meta.dirname, '../../..'),
      env: {
        ...process.env,
        ADMIN_TOKEN: '',
        WORKER_TOKEN: '',
        DATA_DIR: dataDir,
        PORT: '0',
        S3_ENDPOINT: s3.endpoint,
        S3_BUCKET: s3.bucket,
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
    try {
      const url = await new Promise<string>((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`no URL printed; stdout: ${out} stderr: ${err}`)), 60_000);
        const check = () => {
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m && /admin token/.test(out)) {
            clearTimeout(timer);
            ok(m[1]);
          }
        };
        child.stdout.on('data', check);
        exited.then(() => fail(new Error(`exited early; stdout: ${out} stderr: ${err}`)));
      });
      const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
      expect(out).toContain(token);
      const res = await fetch(`${url}/v1/tenants`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'From CLI' }),
      });
      expect(res.status).toBe(201);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
