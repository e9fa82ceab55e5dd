// `npm start` (bin/start.mjs → scripts/start-local.ts): the local stack comes up, serves the API and inference,
// restarts a killed worker, stops cleanly on SIGTERM, and keeps its data across restarts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => ok(port));
    });
  });
}

interface Launched {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the match of the first line (from index `from`) matching `re`. */
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

function launch(env: NodeJS.ProcessEnv): Launched {
  const child = spawn(process.execPath, [join(ROOT, 'bin/start.mjs')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let buf = '';
  const onData = (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  return {
    child,
    lines,
    exited,
    waitFor(re, timeoutMs = 20_000, from = 0) {
      return new Promise((ok, fail) => {
        const check = () => {
          for (let i = from; i < lines.length; i++) {
            const m = lines[i]!.match(re);
            if (m) {
              waiters.delete(check);
              clearTimeout(timer);
              ok(m);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          fail(new Error(`timed out waiting for ${re}; output:\n${lines.slice(-40).join('\n')}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

const dataDir = mkdtempSync(join(tmpdir(), 'cocoop-start-'));
const running = new Set<ChildProcess>();

afterAll(() => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start (local stack)', () => {
  it('serves, restarts a dead worker, stops on SIGTERM and keeps its data', async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port) };
    for (const k of ['ADMIN_TOKEN', 'WORKER_TOKEN', 'S3_BUCKET', 'S3_ENDPOINT', 'INFERENCE_PORT', 'WORK_DIR']) delete env[k];

    const first = launch(env);
    running.add(first.child);
    const url = (await first.waitFor(/ready at (http:\/\/\S+)/, 30_000))[1]!;
    expect(url).toBe(`http://127.0.0.1:${port}`);
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
    const emb = await fetch(`${url}/v1/embeddings/text`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.api_key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ texts: ['a red star'] }),
    });
    expect(emb.status).toBe(200);
    const body = (await emb.json()) as { data: { text: string; embedding: number[] }[] };
    expect(body.data).toHaveLength(1);
    expect(body.data[0]!.embedding).toHaveLength(64);

    // Kill the worker: the launcher starts a new one.
    const pid = Number((await first.waitFor(/^\[worker\] pid (\d+)$/))[1]);
    const mark = first.lines.length;
    process.kill(pid, 'SIGKILL');
    await first.waitFor(new RegExp(`^\\[worker\\] pid ${pid} exited`), 10_000, mark);
    const newPid = Number((await first.waitFor(/^\[worker\] pid (\d+)$/, 10_000, mark))[1]);
    expect(newPid).not.toBe(pid);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(() => process.kill(newPid, 0)).toThrow(); // the worker is gone too

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
});
