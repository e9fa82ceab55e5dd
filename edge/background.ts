// Periodic maintenance of the edge, one function for both runtimes: the Workers cron trigger calls
// runBackgroundTasks directly; on Node startBackgroundTimer runs it on an interval (edge/node/server.ts).
//
// One run: purge expired idempotency keys, purge rate-limit windows older than an hour (or than the
// configured window, when longer), expire presigned uploads past their expires_at (rows, then objects),
// reconcile the bucket with the database (remove due recorded objects no image row names: edge/datasets/
// sweeps.ts; orphans a failed request left are logged), purge job events, final jobs and webhook deliveries
// past the retention (edge/retention.ts), then webhooks: with a webhook queue (ports.webhookQueue: Workers with the
// WEBHOOK_QUEUE binding) it only enqueues due deliveries that have no message (the safety net of the queue,
// edge/webhooks/queue.ts) and the queue's consumer sends them; without one it sends a fair batch of due deliveries
// itself (edge/webhooks/dispatcher.ts) — the Node timer leaves this task out and sends them in dispatch runs of their
// own, which may overlap (startBackgroundTimer); last, the bucket reconciliation by listing (edge/bucket/reconcile.ts:
// one page of the bucket per due run — once a minute at most, whatever the timer's period — removing the objects no
// row refers to once older than ORPHAN_GRACE_HOURS; logged, and reported in bucket_reconciliations). Each task runs
// even when an earlier one failed; failures are logged through config.logger and listed in the summary, never thrown.
// Web-standard code only.
import { type ReconcileSummary, describeReconciliation, reconcileBucket } from './bucket/reconcile.ts';
import type { EdgeConfig } from './config.ts';
import { type SweepSummary, sweepOrphanedObjects } from './datasets/sweeps.ts';
import { expirePendingUploads } from './datasets/uploads.ts';
import { purgeExpiredIdempotencyKeys } from './http/idempotency.ts';
import { purgeOldRateWindows } from './http/rate-limit.ts';
import type { Ports } from './ports.ts';
import { type RetentionSummary, purgeExpiredRecords } from './retention.ts';
import { snapshotStorage } from './usage/storage.ts';
import { type DispatchSummary, dispatchDueWebhooks } from './webhooks/dispatcher.ts';
import { type EnqueueSummary, enqueueDueDeliveries } from './webhooks/queue.ts';
import type { WebhookSettings } from './webhooks/settings.ts';

export interface BackgroundSummary {
  /** The dispatcher's run (no webhook queue); null when it failed (see errors) or the queue is used. */
  webhooks: DispatchSummary | null;
  /** With a webhook queue: the rows given a message; null when that failed or there is no queue. */
  webhookQueue: EnqueueSummary | null;
  idempotencyKeysPurged: number;
  rateWindowsPurged: number;
  /** Pending presigned uploads removed (row and object). */
  uploadsExpired: number;
  /** Tenants whose storage usage of the day was snapshotted (edge/usage/storage.ts). */
  storageSnapshots: number;
  /** The reconciliation of the bucket: due recorded keys handled, and the orphans removed (null when it failed). */
  objectSweep: SweepSummary | null;
  /** Rows purged past the retention (config.retentionDays). */
  retention: RetentionSummary;
  /** The run of the bucket reconciliation by listing; null when none was due, or it failed (see errors). */
  bucketReconciliation: ReconcileSummary | null;
  /** One line per task that failed. */
  errors: string[];
}

export interface BackgroundOptions {
  fetchImpl?: typeof fetch;
  /** False: the webhooks task is left out (the Node timer sends deliveries in runs of their own). Default true. */
  sendWebhooks?: boolean;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One maintenance run (see the header). Never throws. */
export async function runBackgroundTasks(
  ports: Ports,
  config: EdgeConfig,
  webhookSettings: WebhookSettings,
  now: Date = new Date(),
  opts: BackgroundOptions = {},
): Promise<BackgroundSummary> {
  const summary: BackgroundSummary = {
    webhooks: null,
    webhookQueue: null,
    idempotencyKeysPurged: 0,
    rateWindowsPurged: 0,
    uploadsExpired: 0,
    storageSnapshots: 0,
    objectSweep: null,
    retention: { jobEvents: 0, jobs: 0, deliveries: 0, attempts: 0 },
    bucketReconciliation: null,
    errors: [],
  };
  const task = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      summary.errors.push(`${name}: ${describe(err)}`);
      config.logger.error(`[background] ${name} failed`, err);
    }
  };
  await task('idempotency keys', async () => {
    summary.idempotencyKeysPurged = await purgeExpiredIdempotencyKeys(ports.db, now.getTime());
  });
  await task('rate windows', async () => {
    summary.rateWindowsPurged = await purgeOldRateWindows(ports, config, now);
  });
  await task('expired uploads', async () => {
    summary.uploadsExpired = await expirePendingUploads(ports, now, undefined, config.logger);
  });
  await task('object sweep', async () => {
    const sweep = await sweepOrphanedObjects(ports, now);
    summary.objectSweep = sweep;
    if (sweep.orphans.length > 0) {
      const shown = sweep.orphans.slice(0, 10).join(', ');
      config.logger.warn(`[background] removed ${sweep.orphans.length} orphaned object(s) a failed request left: ${shown}${sweep.orphans.length > 10 ? ', …' : ''}`);
    }
  });
  await task('retention', async () => {
    summary.retention = await purgeExpiredRecords(ports.db, config.retentionDays, now);
  });
  if (opts.sendWebhooks !== false) await task('webhooks', async () => {
    if (ports.webhookQueue) summary.webhookQueue = await enqueueDueDeliveries(ports.db, ports.webhookQueue, webhookSettings, now);
    else summary.webhooks = await dispatchDueWebhooks(ports, webhookSettings, now, opts.fetchImpl ?? fetch);
  });
  await task('bucket reconciliation', async () => {
    const run = await reconcileBucket(ports, now, { graceMs: config.orphanGraceHours * 3_600_000, retentionDays: config.retentionDays });
    summary.bucketReconciliation = run;
    const line = run && describeReconciliation(run);
    if (line) config.logger.warn(`[background] ${line}`);
  });
  // Billing: the day's storage snapshot of the next tenants (edge/usage/storage.ts).
  await task('storage usage', async () => {
    summary.storageSnapshots = await snapshotStorage(ports.db, now);
  });
  return summary;
}

export interface BackgroundTimer {
  /**
   * A maintenance run now unless one is in progress (then that one) and, without a webhook queue, a dispatch run
   * (whatever the cap of the ticks' runs); resolves with the summary of both.
   */
  runNow(): Promise<BackgroundSummary>;
  /** Stops the interval and waits for the runs in progress. */
  stop(): Promise<void>;
}

export interface BackgroundTimerOptions extends Omit<BackgroundOptions, 'sendWebhooks'> {
  /** Default 1000 ms. */
  intervalMs?: number;
  /** Called after every completed maintenance run (tests, metrics). */
  onRun?: (summary: BackgroundSummary) => void;
}

/**
 * Dispatch runs the Node timer lets overlap. A run waits for its slowest receiver (up to the webhook timeout); the
 * next tick's run sends the rows that are not in flight meanwhile, so one slow receiver does not hold every other
 * tenant's deliveries. No row goes twice (claims) and no endpoint has more than its slots open (dispatcher.ts).
 */
export const MAX_DISPATCH_RUNS = 4;

/**
 * Node: every `intervalMs` (unref'd), a maintenance run — runBackgroundTasks without its webhooks task; a tick
 * during one is skipped, runs never overlap — and, without a webhook queue, a dispatch run of due deliveries, up to
 * MAX_DISPATCH_RUNS at once. Errors are logged, never thrown.
 */
export function startBackgroundTimer(
  ports: Ports,
  config: EdgeConfig,
  webhookSettings: WebhookSettings,
  opts: BackgroundTimerOptions = {},
): BackgroundTimer {
  const intervalMs = opts.intervalMs ?? 1000;
  if (!(Number.isFinite(intervalMs) && intervalMs > 0)) throw new Error(`background intervalMs must be > 0, got ${intervalMs}`);
  const lanes = !ports.webhookQueue; // with a queue, the maintenance run's webhooks task only enqueues: no lane of its own
  let running: Promise<BackgroundSummary> | null = null;
  const dispatches = new Set<Promise<DispatchOutcome>>();
  let stopped = false;
  const maintain = (): Promise<BackgroundSummary> => {
    if (running) return running;
    const p = runBackgroundTasks(ports, config, webhookSettings, config.clock(), { ...opts, sendWebhooks: !lanes })
      .then((summary) => {
        try {
          opts.onRun?.(summary);
        } catch (err) {
          config.logger.error('[background] onRun callback failed', err);
        }
        return summary;
      })
      .finally(() => {
        running = null;
      });
    running = p;
    return p;
  };
  /** A dispatch run; a tick's (`capped`) only while fewer than MAX_DISPATCH_RUNS are in progress. */
  const dispatch = (capped: boolean): Promise<DispatchOutcome> | null => {
    if (capped && dispatches.size >= MAX_DISPATCH_RUNS) return null;
    const p: Promise<DispatchOutcome> = dispatchDueWebhooks(ports, webhookSettings, config.clock(), opts.fetchImpl ?? fetch)
      .then((webhooks) => ({ webhooks, error: null }))
      .catch((err: unknown) => {
        config.logger.error('[background] webhooks failed', err);
        return { webhooks: null, error: `webhooks: ${describe(err)}` };
      })
      .finally(() => dispatches.delete(p));
    dispatches.add(p);
    return p;
  };
  const runNow = async (): Promise<BackgroundSummary> => {
    const [summary, sent] = await Promise.all([maintain(), lanes ? dispatch(false) : Promise.resolve(null)]);
    if (!sent) return summary;
    return { ...summary, webhooks: sent.webhooks, errors: sent.error ? [...summary.errors, sent.error] : summary.errors };
  };
  const handle = setInterval(() => {
    if (stopped) return;
    if (!running) void maintain().catch((err) => config.logger.error('[background] run failed', err));
    if (lanes) void dispatch(true);
  }, intervalMs);
  (handle as { unref?: () => void }).unref?.();
  return {
    runNow,
    async stop() {
      stopped = true;
      clearInterval(handle);
      await Promise.all([running?.catch(() => {}), ...dispatches]);
    },
  };
}

/** What a dispatch run of the Node timer ended with. */
interface DispatchOutcome {
  webhooks: DispatchSummary | null;
  error: string | null;
}
