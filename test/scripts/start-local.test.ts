// `npm start` (bin/start.mjs → scripts/start-local.ts): the local stack comes up, serves the API and inference,
// loads the model once per worker process, restarts a killed worker process, stops cleanly on SIGTERM, and keeps
// its data across restarts. (With the edge inside workerd, `--edge workerd`: test/scripts/platform-e2e.test.ts.)
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, freePort, launch as launchProcess } from '../helpers/processes.ts';
import { edgeRuntimeFrom } from '../../scripts/start-local.ts';

const launch = (env: NodeJS.ProcessEnv) => launchProcess(['bin/start.mjs'], env);

const dataDir = mkdtempSync(join(tmpdir(), 'cocoop-start-'));
const running = new Set<ChildProcess>();

afterAll(() => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start (local stack)', () => {
  it('serves, restarts a dead worker, stops on SIGTERM and keeps its data', async () => {
    const port = await freePort();
    const env = cleanEnv({ DATA_DIR: dataDir, PORT: String(port) });

    const first = launch(env);
    running.add(first.child);
    const url = (await first.waitFor(/ready at (http:\/\/\S+)/, 30_000))[1]!;
    expect(url).toBe(`http://127.0.0.1:${port}`);
    const stack = JSON.parse(readFileSync(join(dataDir, 'stack.json'), 'utf8')) as { edge_url: string; pid: number; s3: { endpoint: string } };
    expect(stack.edge_url).toBe(url);
    expect(stack.pid).toBe(first.child.pid);
    expect((await fetch(`${stack.s3.endpoint}/cocoop?list-type=2`)).status).toBe(200); // the S3-protocol server it names
    for (const prefix of ['[s3]', '[edge]', '[worker]']) expect(first.lines.some((l) => l.startsWith(prefix))).toBe(true);

    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const admin = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    expect(first.lines.some((l) => l.includes(admin))).toBe(true); // generated, so printed
    const created = await fetch(`${url}/v1/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'acme' }),
    });
    expect(created.status).toBe(201);
    const tenant = (await created.json()) as { id: string; api_key: string };

    // The worker's inference server, reached through the edge.
    await first.waitFor(/^\[worker\] inference server listening/, 30_000);
    // The worker process loads the model once for its trainer and its inference server.
    expect(first.lines.filter((l) => /^\[worker\] model \S+ loaded from /.test(l))).toHaveLength(1);
    const emb = await fetch(`${url}/v1/embeddings/text`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.api_key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ texts: ['a red star'] }),
    });
    expect(emb.status).toBe(200);
    const body = (await emb.json()) as { data: { text: string; embedding: number[] }[] };
    expect(body.data).toHaveLength(1);
    expect(body.data[0]!.embedding).toHaveLength(64);

    // s3rver runs in its own process (not the launcher's); killed, it is restarted on the same endpoint.
    const s3Pid = Number((await first.waitFor(/^\[s3\] pid (\d+)$/))[1]);
    expect(s3Pid).not.toBe(first.child.pid);
    expect(first.lines).toContain(`[s3] s3rver listening on ${stack.s3.endpoint} (bucket cocoop, data: ${join(dataDir, 's3')})`);
    const s3Mark = first.lines.length;
    process.kill(s3Pid, 'SIGKILL');
    await first.waitFor(new RegExp(`^\\[s3\\] pid ${s3Pid} exited`), 30_000, s3Mark);
    const newS3Pid = Number((await first.waitFor(/^\[s3\] pid (\d+)$/, 30_000, s3Mark))[1]);
    expect(newS3Pid).not.toBe(s3Pid);
    await first.waitFor(/^\[s3\] s3rver listening on /, 30_000, s3Mark);
    expect((await fetch(`${stack.s3.endpoint}/cocoop?list-type=2`)).status).toBe(200);

    // Kill the worker: the launcher starts a new one.
    const pid = Number((await first.waitFor(/^\[worker\] pid (\d+)$/))[1]);
    const mark = first.lines.length;
    process.kill(pid, 'SIGKILL');
    await first.waitFor(new RegExp(`^\\[worker\\] pid ${pid} exited`), 30_000, mark);
    const newPid = Number((await first.waitFor(/^\[worker\] pid (\d+)$/, 30_000, mark))[1]);
    expect(newPid).not.toBe(pid);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(existsSync(join(dataDir, 'stack.json'))).toBe(false);
    expect(() => process.kill(newPid, 0)).toThrow(); // the worker is gone too
    expect(() => process.kill(newS3Pid, 0)).toThrow(); // and the s3 process

    // Same DATA_DIR: the tenant still authenticates.
    const second = launch(env);
    running.add(second.child);
    const url2 = (await second.waitFor(/ready at (http:\/\/\S+)/, 30_000))[1]!;
    expect(second.lines.some((l) => l.includes(admin))).toBe(false); // not generated again
    const me = await fetch(`${url2}/v1/me`, { headers: { authorization: `Bearer ${tenant.api_key}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { id: string }).id).toBe(tenant.id);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 60_000);

  it('--edge picks the edge runtime (node by default, or EDGE_RUNTIME); anything else is refused', () => {
    expect(edgeRuntimeFrom([], {})).toBe('node');
    expect(edgeRuntimeFrom(['--edge', 'workerd'], {})).toBe('workerd');
    expect(edgeRuntimeFrom(['--edge=workerd'], {})).toBe('workerd');
    expect(edgeRuntimeFrom([], { EDGE_RUNTIME: 'workerd' })).toBe('workerd');
    expect(edgeRuntimeFrom(['--edge', 'node'], { EDGE_RUNTIME: 'workerd' })).toBe('node');
    expect(() => edgeRuntimeFrom(['--edge', 'deno'], {})).toThrow(/node or workerd/);
    expect(() => edgeRuntimeFrom(['--edge'], {})).toThrow(/node or workerd/);
    expect(() => edgeRuntimeFrom(['--port', '1'], {})).toThrow(/unknown argument/);
  });
});
