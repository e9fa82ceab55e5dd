// The edge on Cloudflare Workers: builds the three ports from bindings and serves createApp(ports, config).
//
// Bindings (infra/cloudflare/wrangler.toml): DB (D1, schema from infra/migrations), CACHE (KV), RATE_LIMITER, its
// RATE_LIMITER_<limit> tiers and AUTH_FAILURE_LIMITER (rate limiting: edge/workers/rate-limits.ts), WEBHOOK_QUEUE and
// WEBHOOK_DLQ (Cloudflare Queues: webhook deliveries and their dead letters).
// Vars/secrets: ADMIN_TOKEN, WORKER_TOKEN (secrets), S3_ENDPOINT, S3_BUCKET, S3_REGION, S3_ACCESS_KEY_ID,
// S3_SECRET_ACCESS_KEY (secret), S3_FORCE_PATH_STYLE, WEBHOOK_RETRY_SCHEDULE (tests), plus everything configFromEnv reads.
//
// Webhooks (edge/webhooks/queue.ts, consumer.ts): the D1 adapter reports every outbox row a committed batch wrote;
// after each request the entry enqueues those rows in ctx.waitUntil (a request that wrote none costs nothing). Why
// not the domain code: it writes the rows in the batch of the state change and knows nothing of queues; why not a
// query after every request: this costs no D1 call at all for the requests that wrote none. The `queue()` handler
// consumes WEBHOOK_QUEUE (one attempt per message, deliverOne). The cron trigger runs runBackgroundTasks (purges,
// expired uploads, the bucket reconciliation, and — with the queue bound — enqueueing due deliveries that have no
// message; without WEBHOOK_QUEUE it sends them itself, as before). Ports, config and app are built once per isolate.
import { type EdgeApp, createApp } from '../app.ts';
import { runBackgroundTasks } from '../background.ts';
import { DEFAULTS, type EdgeConfig, type RateLimitConfig, configFromEnv } from '../config.ts';
import type { Ports } from '../ports.ts';
import { consumeWebhookMessages } from '../webhooks/consumer.ts';
import { outboxDeliveryId } from '../webhooks/outbox.ts';
import { enqueueDeliveries } from '../webhooks/queue.ts';
import { type WebhookSettings, retryScheduleFromEnv, webhookSettings } from '../webhooks/settings.ts';
import { s3OptionsFromEnv } from '../../shared/storage/s3-env.ts';
import { Aws4fetchBlobStore } from '../../shared/storage/aws4fetch-blob-store.ts';
import type { D1Database, ExecutionContext, KVNamespace, MessageBatch, QueueBinding, RateLimitBinding, ScheduledController } from './bindings.ts';
import { workersRateLimits } from './rate-limits.ts';
import { type AfterBatch, D1SqlDatabase } from './d1-database.ts';
import { KvCache } from './kv-cache.ts';
import { CloudflareQueue } from './queues.ts';
import { type AssetsBinding, bindingConsoleAssets } from './console-assets.ts';

export interface WorkerEnv {
  DB: D1Database;
  CACHE: KVNamespace;
  /** Rate-limiting bindings (edge/workers/rate-limits.ts): per API key, and failed authentication per address. */
  RATE_LIMITER?: RateLimitBinding;
  AUTH_FAILURE_LIMITER?: RateLimitBinding;
  /** Webhook deliveries (producer and consumer) and their dead letters. Without WEBHOOK_QUEUE the cron sends webhooks. */
  WEBHOOK_QUEUE?: QueueBinding;
  WEBHOOK_DLQ?: QueueBinding;
  /** The web console's static files (the `[assets]` directory: console/dist/site); served at /console. */
  ASSETS?: AssetsBinding;
  [name: string]: unknown;
}

interface Edge {
  ports: Ports;
  config: EdgeConfig;
  app: EdgeApp;
  webhooks: WebhookSettings;
  /** Outbox rows written by this isolate's batches and not yet enqueued (drained after each request). */
  written: Set<string>;
}

/** The string-valued vars and secrets of `env` (bindings are objects). */
function stringVars(env: WorkerEnv): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

export function buildPorts(env: WorkerEnv, rateLimit: RateLimitConfig = DEFAULTS.rateLimit, afterBatch?: AfterBatch): Ports {
  const vars = stringVars(env);
  if (!env.DB) throw new Error('missing D1 binding DB');
  if (!env.CACHE) throw new Error('missing KV binding CACHE');
  // The same reading of the S3 settings as on Node (R2's region is "auto").
  const s3 = s3OptionsFromEnv(vars, 'auto');
  if (!s3) throw new Error('set S3_BUCKET (and S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY)');
  const blobs = new Aws4fetchBlobStore(s3);
  return {
    db: new D1SqlDatabase(env.DB, afterBatch),
    blobs,
    cache: new KvCache(env.CACHE),
    rateLimits: workersRateLimits(env, rateLimit),
    webhookQueue: env.WEBHOOK_QUEUE ? new CloudflareQueue(env.WEBHOOK_QUEUE) : undefined,
    webhookDeadLetters: env.WEBHOOK_DLQ ? new CloudflareQueue(env.WEBHOOK_DLQ) : undefined,
    consoleAssets: env.ASSETS ? bindingConsoleAssets(env.ASSETS) : undefined,
  };
}

let edge: Edge | null = null;
let edgeEnv: WorkerEnv | null = null;

/** The isolate's edge; rebuilt only if the runtime hands over a different env object. */
export function edgeFor(env: WorkerEnv): Edge {
  if (edge && edgeEnv === env) return edge;
  const vars = stringVars(env);
  const config = configFromEnv(vars);
  const written = new Set<string>();
  const collect: AfterBatch = (statements, changes) => {
    statements.forEach((s, i) => {
      const id = outboxDeliveryId(s);
      if (id !== undefined && changes[i] > 0) written.add(id);
    });
  };
  const ports = buildPorts(env, config.rateLimit, collect);
  // No DNS resolver on Workers: the URL guard checks literal addresses; fetch() itself cannot reach private networks.
  const retryScheduleSeconds = retryScheduleFromEnv(vars);
  const webhooks = webhookSettings({ localMode: config.localMode, ...(retryScheduleSeconds ? { retryScheduleSeconds } : {}) });
  edge = { ports, config, app: createApp(ports, config), webhooks, written };
  edgeEnv = env;
  return edge;
}

/** Enqueues (in waitUntil) the outbox rows the isolate's batches wrote since the last call. */
function enqueueWritten(e: Edge, ctx: ExecutionContext): void {
  const queue = e.ports.webhookQueue;
  if (!queue || e.written.size === 0) return;
  const ids = [...e.written];
  e.written.clear();
  ctx.waitUntil(
    enqueueDeliveries(e.ports.db, queue, ids).catch((err) => {
      // The rows stay without a message; the cron enqueues them.
      console.error('[webhooks] enqueueing new deliveries failed; the cron will', err);
    }),
  );
}

function misconfigured(err: unknown): Response {
  console.error('edge: configuration error', err);
  return Response.json({ error: { code: 'internal', message: 'The service is misconfigured.' } }, { status: 500 });
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    let e: Edge;
    try {
      e = edgeFor(env);
    } catch (err) {
      return misconfigured(err);
    }
    try {
      // hono's ExecutionContext type also lists `props`, which this entry does not use.
      return await e.app.fetch(request, env, ctx as Parameters<EdgeApp['fetch']>[2]);
    } finally {
      enqueueWritten(e, ctx);
    }
  },

  scheduled(controller: ScheduledController, env: WorkerEnv, ctx: ExecutionContext): void {
    const e = edgeFor(env);
    ctx.waitUntil(
      runBackgroundTasks(e.ports, e.config, e.webhooks, new Date(controller.scheduledTime)).then((summary) => {
        if (summary.errors.length > 0) console.error('[cron] background errors', summary.errors);
        enqueueWritten(e, ctx);
      }),
    );
  },

  async queue(batch: MessageBatch, env: WorkerEnv, ctx: ExecutionContext): Promise<void> {
    const e = edgeFor(env);
    if (!e.ports.webhookQueue) {
      console.error(`[webhooks] a batch of queue ${batch.queue} arrived but WEBHOOK_QUEUE is not bound; retrying it`);
      return batch.retryAll();
    }
    await consumeWebhookMessages(e.ports.db, e.webhooks, batch.messages, {
      queue: e.ports.webhookQueue,
      deadLetters: e.ports.webhookDeadLetters,
      waitUntil: (p) => ctx.waitUntil(p),
      logger: e.config.logger,
    });
  },
};
