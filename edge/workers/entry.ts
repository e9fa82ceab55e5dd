// The edge on Cloudflare Workers: builds the three ports from bindings and serves createApp(ports, config).
//
// Bindings (infra/cloudflare/wrangler.toml): DB (D1, schema from infra/migrations), CACHE (KV), RATE_LIMITER and
// AUTH_FAILURE_LIMITER (rate limiting: edge/workers/rate-limits.ts).
// Vars/secrets: ADMIN_TOKEN, WORKER_TOKEN (secrets), S3_ENDPOINT, S3_BUCKET, S3_REGION, S3_ACCESS_KEY_ID,
// S3_SECRET_ACCESS_KEY (secret), S3_FORCE_PATH_STYLE, plus everything configFromEnv reads.
// The cron trigger runs runBackgroundTasks (idempotency/rate-limit purge, expired uploads, webhook
// delivery via dispatchDueWebhooks). Ports, config and app are built once per isolate.
import { type EdgeApp, createApp } from '../app.ts';
import { runBackgroundTasks } from '../background.ts';
import { DEFAULTS, type EdgeConfig, type RateLimitConfig, configFromEnv } from '../config.ts';
import type { Ports } from '../ports.ts';
import { webhookSettings } from '../webhooks/settings.ts';
import { s3OptionsFromEnv } from '../../shared/storage/s3-env.ts';
import { Aws4fetchBlobStore } from '../../shared/storage/aws4fetch-blob-store.ts';
import type { D1Database, ExecutionContext, KVNamespace, RateLimitBinding, ScheduledController } from './bindings.ts';
import { workersRateLimits } from './rate-limits.ts';
import { D1SqlDatabase } from './d1-database.ts';
import { KvCache } from './kv-cache.ts';

export interface WorkerEnv {
  DB: D1Database;
  CACHE: KVNamespace;
  /** Rate-limiting bindings (edge/workers/rate-limits.ts): per API key, and failed authentication per address. */
  RATE_LIMITER?: RateLimitBinding;
  AUTH_FAILURE_LIMITER?: RateLimitBinding;
  [name: string]: unknown;
}

interface Edge {
  ports: Ports;
  config: EdgeConfig;
  app: EdgeApp;
}

/** The string-valued vars and secrets of `env` (bindings are objects). */
function stringVars(env: WorkerEnv): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

export function buildPorts(env: WorkerEnv, rateLimit: RateLimitConfig = DEFAULTS.rateLimit): Ports {
  const vars = stringVars(env);
  if (!env.DB) throw new Error('missing D1 binding DB');
  if (!env.CACHE) throw new Error('missing KV binding CACHE');
  // The same reading of the S3 settings as on Node (R2's region is "auto").
  const s3 = s3OptionsFromEnv(vars, 'auto');
  if (!s3) throw new Error('set S3_BUCKET (and S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY)');
  const blobs = new Aws4fetchBlobStore(s3);
  return { db: new D1SqlDatabase(env.DB), blobs, cache: new KvCache(env.CACHE), rateLimits: workersRateLimits(env, rateLimit) };
}

let edge: Edge | null = null;
let edgeEnv: WorkerEnv | null = null;

/** The isolate's edge; rebuilt only if the runtime hands over a different env object. */
export function edgeFor(env: WorkerEnv): Edge {
  if (edge && edgeEnv === env) return edge;
  const config = configFromEnv(stringVars(env));
  const ports = buildPorts(env, config.rateLimit);
  edge = { ports, config, app: createApp(ports, config) };
  edgeEnv = env;
  return edge;
}

function misconfigured(err: unknown): Response {
  console.error('edge: configuration error', err);
  return Response.json({ error: { code: 'internal', message: 'The service is misconfigured.' } }, { status: 500 });
}

export default {
  fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Response | Promise<Response> {
    let app: EdgeApp;
    try {
      app = edgeFor(env).app;
    } catch (err) {
      return misconfigured(err);
    }
    // hono's ExecutionContext type also lists `props`, which this entry does not use.
    return app.fetch(request, env, ctx as Parameters<EdgeApp['fetch']>[2]);
  },

  scheduled(controller: ScheduledController, env: WorkerEnv, ctx: ExecutionContext): void {
    const { ports, config } = edgeFor(env);
    // No DNS resolver on Workers: the URL guard checks literal addresses; fetch() itself cannot reach private networks.
    const settings = webhookSettings({ localMode: config.localMode });
    ctx.waitUntil(
      runBackgroundTasks(ports, config, settings, new Date(controller.scheduledTime)).then((summary) => {
        if (summary.errors.length > 0) console.error('[cron] background errors', summary.errors);
      }),
    );
  },
};
