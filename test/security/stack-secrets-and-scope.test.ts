// Security review (docs/security.md), on the real local stack (`bin/start.mjs`: s3rver + edge on SQLite + a
// supervised worker with its inference server), with a temp DATA_DIR:
//  1. Secrets never reach the logs: after tenant creation, key creation and revocation, failed auth with bogus
//     keys, a webhook endpoint on a loopback receiver (plus a secret rotation and a real signed delivery),
//     presigned uploads PUT to s3rver, and a text-embedding call (edge → inference server with the worker
//     token), no API key, bogus key, webhook secret, the worker token or any X-Amz-Signature value appears
//     anywhere in the stack's stdout/stderr. The generated admin token is printed exactly once (the
//     `[local] admin token` line of the first start) and not on a restart.
//  2. Token scope across processes: the worker token is refused (401) on tenant routes and on POST /v1/tenants;
//     tenant keys and the admin token are refused (401) on the edge's /internal/v1 and on the inference server.
import type { ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, freePort, launch as launchProcess, type Launched } from '../helpers/processes.ts';
import { waitUntil } from '../helpers/wait-until.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'cocoop-security-'));
const running = new Set<ChildProcess>();
let receiver: Server | undefined;

afterAll(async () => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await new Promise<void>((ok) => (receiver ? receiver.close(() => ok()) : ok()));
  rmSync(dataDir, { recursive: true, force: true });
});

const launch = (env: NodeJS.ProcessEnv): Launched => {
  const l = launchProcess(['bin/start.mjs'], env);
  running.add(l.child);
  return l;
};

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

async function startReceiver(): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((ok) => receiver!.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, received };
}

describe('the local stack (real processes)', () => {
  it('keeps every secret out of its output, and each token works only where it should', async () => {
    const port = await freePort();
    const env = cleanEnv({ DATA_DIR: dataDir, PORT: String(port) });
    const stack = launch(env);
    const url = (await stack.waitFor(/ready at (http:\/\/\S+)/, 30_000))[1]!;
    const admin = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    const workerToken = readFileSync(join(dataDir, 'worker-token'), 'utf8').trim();
    const info = JSON.parse(readFileSync(join(dataDir, 'stack.json'), 'utf8')) as { inference_url: string };
    const hook = await startReceiver();

    const secrets: { what: string; value: string }[] = [{ what: 'worker token', value: workerToken }];
    const call = async (path: string, token: string | null, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
      const headers: Record<string, string> = { ...init.headers };
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (init.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(url + path, { method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
      const text = await res.text();
      return { status: res.status, json: (text ? JSON.parse(text) : null) as any };
    };

    // Tenant and keys.
    const tenant = await call('/v1/tenants', admin, { body: { name: 'acme' } });
    expect(tenant.status).toBe(201);
    const key1 = tenant.json.api_key as string;
    const k2 = await call('/v1/api-keys', key1, { method: 'POST' });
    expect(k2.status).toBe(201);
    const k3 = await call('/v1/api-keys', key1, { method: 'POST' });
    secrets.push({ what: 'first API key', value: key1 }, { what: 'second API key', value: k2.json.api_key }, { what: 'third API key', value: k3.json.api_key });
    expect((await call(`/v1/api-keys/${k2.json.id}`, key1, { method: 'DELETE' })).status).toBe(204);
    expect((await call('/v1/me', k2.json.api_key)).status).toBe(401); // revoked
    // Failed auth attempts: a well-formed unknown key, a malformed one, a wrong admin token.
    const bogus = `ck_live_${'Zq9'.repeat(10)}xy`;
    const bogusMalformed = 'ck_live_not-a-real-key-but-someones-typo-0123456789';
    secrets.push({ what: 'bogus key', value: bogus }, { what: 'malformed bogus key', value: bogusMalformed });
    for (const t of [bogus, bogusMalformed, `${admin}x`]) expect((await call('/v1/me', t)).status).toBe(401);
    expect((await call('/v1/tenants', `${admin}x`, { body: { name: 'x' } })).status).toBe(401);

    // Webhook endpoint on a loopback receiver (local mode allows it), then a rotation.
    const ep = await call('/v1/webhook-endpoints', key1, { body: { url: hook.url, events: ['training_job.cancelled'] } });
    expect(ep.status).toBe(201);
    const rotated = await call(`/v1/webhook-endpoints/${ep.json.id}/rotate-secret`, key1, { method: 'POST' });
    expect(rotated.status).toBe(200);
    for (const s of [ep.json.secret as string, rotated.json.secret as string]) {
      secrets.push({ what: 'webhook secret', value: s }, { what: 'webhook secret (base64 part)', value: s.slice('whsec_'.length) });
    }

    // Presigned uploads to s3rver: one image per class.
    const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toBuffer();
    const ds = await call('/v1/datasets', key1, { body: { name: 'secrets', classes: ['cat', 'dog'] } });
    const up = await call(`/v1/datasets/${ds.json.id}/uploads`, key1, {
      body: { files: ['cat', 'dog'].map((label) => ({ label, content_type: 'image/png', bytes: png.length })) },
    });
    expect(up.status).toBe(201);
    for (const u of up.json.uploads as { image_id: string; url: string; headers: Record<string, string> }[]) {
      const sig = new URL(u.url).searchParams.get('X-Amz-Signature');
      expect(sig).toMatch(/^[0-9a-f]{64}$/);
      secrets.push({ what: 'X-Amz-Signature', value: sig! });
      const put = await fetch(u.url, { method: 'PUT', headers: u.headers, body: png });
      expect(put.status).toBe(200);
      await put.arrayBuffer();
    }
    const done = await call(`/v1/datasets/${ds.json.id}/uploads/complete`, key1, { body: { image_ids: up.json.uploads.map((u: { image_id: string }) => u.image_id) } });
    expect(done.status).toBe(200);
    expect((await call(`/v1/datasets/${ds.json.id}/finalize`, key1, { method: 'POST' })).status).toBe(200);

    // A job cancelled (queued: at once; running: once the worker stops) fires a signed webhook to the receiver.
    const job = await call('/v1/training-jobs', key1, { body: { dataset_id: ds.json.id, method: 'coop', hyperparameters: { epochs: 1 } } });
    expect(job.status).toBe(201);
    expect((await call(`/v1/training-jobs/${job.json.id}/cancel`, key1, { method: 'POST' })).status).toBe(200);
    const delivery = await waitUntil('the webhook delivery', () => hook.received[0], { timeoutMs: 25_000, intervalMs: 100 });
    // Signed with both secrets during the rotation overlap; each one verifies.
    for (const s of [ep.json.secret as string, rotated.json.secret as string]) {
      expect(new Webhook(s).verify(delivery.body, delivery.headers as Record<string, string>)).toMatchObject({ type: 'training_job.cancelled' });
    }

    // The edge calls the inference server with the worker token.
    await stack.waitFor(/^\[worker\] inference server listening/, 30_000);
    expect((await call('/v1/embeddings/text', key1, { body: { texts: ['a red star'] } })).status).toBe(200);

    // ---- token scope ----
    // The worker token is not a tenant key and not the admin token.
    for (const path of ['/v1/me', '/v1/datasets', `/v1/datasets/${ds.json.id}`, '/v1/training-jobs', '/v1/models', '/v1/webhook-endpoints']) {
      const r = await call(path, workerToken);
      expect([path, r.status, r.json?.error?.code]).toEqual([path, 401, 'unauthorized']);
    }
    expect((await call('/v1/api-keys', workerToken, { method: 'POST' })).status).toBe(401);
    expect((await call('/v1/tenants', workerToken, { body: { name: 'w' } })).status).toBe(401);
    // Tenant keys and the admin token cannot use the internal worker API.
    for (const t of [key1, k3.json.api_key as string, admin]) {
      const r = await call('/internal/v1/leases', t, { body: { worker_id: 'intruder' } });
      expect(r.status).toBe(401);
      expect((await call(`/internal/v1/jobs/${job.json.id}/fail`, t, { body: { lease_id: 'x', code: 'x', message: 'x' } })).status).toBe(401);
    }
    // ... nor the inference server (only the worker token gets past its auth: 400 for an empty body).
    const infer = async (token: string | null, path: string) => {
      const res = await fetch(info.inference_url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
        body: '{}',
      });
      await res.arrayBuffer();
      return res.status;
    };
    for (const path of ['/internal/v1/classify', '/internal/v1/embeddings/text']) {
      for (const t of [key1, admin, null, `${workerToken}x`, workerToken.slice(0, -1)]) expect(await infer(t, path), `${path} ${t}`).toBe(401);
      expect(await infer(workerToken, path)).toBe(400);
    }

    // ---- stop, then scan everything the stack printed ----
    stack.child.kill('SIGTERM');
    expect(await stack.exited).toBe(0);
    const output = stack.lines.join('\n');
    expect(output.length).toBeGreaterThan(200);
    const leaked = secrets.filter((s) => output.includes(s.value)).map((s) => s.what);
    expect(leaked, 'secrets found in the stack output').toEqual([]);
    // Key-shaped strings of any kind: none at all.
    expect(output.match(/ck_live_[0-9A-Za-z]{8,}/g) ?? []).toEqual([]);
    expect(output.match(/whsec_[0-9A-Za-z+/=]{8,}/g) ?? []).toEqual([]);
    expect(output.match(/X-Amz-Signature=[0-9a-f]+/gi) ?? []).toEqual([]);
    // The generated admin token: printed exactly once, on the line that announces it.
    const adminLines = stack.lines.filter((l) => l.includes(admin));
    expect(adminLines).toHaveLength(1);
    expect(adminLines[0]).toMatch(/^\[local\] admin token \(also in .*admin-token\): adm_/);

    // A restart on the same DATA_DIR reuses the token file and prints it nowhere.
    const again = launch(env);
    await again.waitFor(/ready at (http:\/\/\S+)/, 30_000);
    expect((await fetch(`${url}/v1/me`, { headers: { authorization: `Bearer ${key1}` } })).status).toBe(200);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    expect(again.lines.filter((l) => l.includes(admin) || l.includes(workerToken))).toEqual([]);
  }, 90_000);
});
