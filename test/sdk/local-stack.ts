// The local stack of `npm start` for the SDK tests, as real processes: s3rver, the edge on Node with SQLite, one
// worker process (trainer + inference server on the bundled toy CLIP). Started once per test file, alone or with a
// webhook receiver and a scratch directory (startStackWithReceiver).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Launched, cleanEnv, freePort, isAlive, launch } from '../helpers/processes.ts';
import { type WebhookReceiver, startReceiver } from '../helpers/webhook-receiver.ts';

export interface LocalStack {
  url: string;
  adminToken: string;
  /** stdout and stderr of the stack, line by line. */
  lines: string[];
  /** POST /v1/tenants as admin: a new tenant's API key. */
  newTenantKey(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** Starts `npm start` (bin/start.mjs) in a temporary data dir; `env` adds edge / worker settings (QUOTA_*, ...). */
export async function startLocalStack(env: NodeJS.ProcessEnv = {}): Promise<LocalStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cocoop-sdk-'));
  const stack: Launched = launch(
    ['bin/start.mjs'],
    cleanEnv({ DATA_DIR: dataDir, PORT: String(await freePort()), POLL_MS: '200', MAX_POLL_MS: '500', HEARTBEAT_MS: '300', ...env }),
  );
  const stop = async () => {
    if (stack.child.exitCode === null && stack.child.signalCode === null) {
      stack.child.kill('SIGTERM');
      const exited = await Promise.race([stack.exited.then(() => true), new Promise<boolean>((ok) => setTimeout(() => ok(false), 10_000))]);
      if (!exited) stack.child.kill('SIGKILL');
    }
    // The supervised worker is the launcher's child: make sure it does not outlive the test.
    for (const line of stack.lines) {
      const m = line.match(/^\[worker\] pid (\d+)$/);
      if (m && isAlive(Number(m[1]))) process.kill(Number(m[1]), 'SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const url = (await stack.waitFor(/ready at (http:\/\/\S+)/, 90_000))[1]!;
    await stack.waitFor(/^\[worker\] worker \S+: polling for jobs/, 90_000);
    const adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    return {
      url,
      adminToken,
      lines: stack.lines,
      async newTenantKey(name) {
        const res = await fetch(`${url}/v1/tenants`, {
          method: 'POST',
          headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name }),
        });
        if (res.status !== 201) throw new Error(`POST /v1/tenants: ${res.status} ${await res.text()}`);
        return ((await res.json()) as { api_key: string }).api_key;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface StackWithReceiver {
  stack: LocalStack;
  receiver: WebhookReceiver;
  /** An empty temporary directory for the test's files. */
  scratch: string;
  /** Stops the stack and the receiver and removes `scratch`. */
  stop(): Promise<void>;
}

/** The local stack (`env` as for startLocalStack) and a webhook receiver, started together, and a scratch directory. */
export async function startStackWithReceiver(scratchPrefix: string, env: NodeJS.ProcessEnv = {}): Promise<StackWithReceiver> {
  const scratch = mkdtempSync(join(tmpdir(), scratchPrefix));
  const [stack, receiver] = await Promise.allSettled([startLocalStack(env), startReceiver()]);
  const stop = async () => {
    if (stack.status === 'fulfilled') await stack.value.stop();
    if (receiver.status === 'fulfilled') await receiver.value.close();
    rmSync(scratch, { recursive: true, force: true });
  };
  if (stack.status === 'rejected' || receiver.status === 'rejected') {
    await stop();
    throw stack.status === 'rejected' ? stack.reason : (receiver as PromiseRejectedResult).reason;
  }
  return { stack: stack.value, receiver: receiver.value, scratch, stop };
}
