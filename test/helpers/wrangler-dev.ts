// The Workers build of the edge inside workerd for tests: scripts/lib/workerd-edge.ts (`wrangler dev` in local mode on
// infra/cloudflare/wrangler.toml, local D1 with migrations applied, KV and Queues) with its state, logs and config in a
// temp dir that stop() removes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorkerdEdge } from '../../scripts/lib/workerd-edge.ts';

export interface WranglerDev {
  base: string;
  /** The persisted state of local D1, KV and Queues (`--persist-to`); removed by stop(). */
  stateDir: string;
  log(): string;
  stop(): Promise<void>;
}

export interface WranglerDevOptions {
  /** .dev.vars: vars and secrets. */
  vars: Record<string, string>;
  /** Changes to the text of wrangler.toml before it is used (e.g. smaller limits). */
  editConfig?: (toml: string) => string;
  /** Serve /__scheduled, which runs the cron trigger (`wrangler dev --test-scheduled`). */
  testScheduled?: boolean;
}

export async function startWranglerDev(opts: WranglerDevOptions): Promise<WranglerDev> {
  const dir = mkdtempSync(join(tmpdir(), 'wrangler-dev-'));
  const stateDir = join(dir, 'state');
  try {
    const edge = await startWorkerdEdge({ ...opts, dir, stateDir });
    return {
      base: edge.base,
      stateDir,
      log: edge.log,
      async stop() {
        await edge.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The tokens of a test's Workers edge. */
export const WORKERD_ADMIN = 'workerd-admin-token-0123456789';
export const WORKERD_WORKER = 'workerd-worker-token-0123456789';

/**
 * The vars every test's Workers edge needs: its tokens, local mode, and S3 on `s3` (a running s3rver), or an
 * unreachable placeholder for tests that store nothing; `extra` adds or overrides.
 */
export function edgeVars(s3: { endpoint: string; bucket: string } | null, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ADMIN_TOKEN: WORKERD_ADMIN,
    WORKER_TOKEN: WORKERD_WORKER,
    S3_ENDPOINT: s3?.endpoint ?? 'http://127.0.0.1:9',
    S3_BUCKET: s3?.bucket ?? 'unused',
    S3_REGION: 'us-east-1',
    S3_ACCESS_KEY_ID: s3 ? 'S3RVER' : 'unused',
    S3_SECRET_ACCESS_KEY: s3 ? 'S3RVER' : 'unused',
    LOCAL_MODE: 'true',
    ...extra,
  };
}
