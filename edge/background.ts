// Periodic maintenance of the edge, one function for both runtimes: the Workers cron trigger calls
// runBackgroundTasks directly; on Node startBackgroundTimer runs it on an interval (edge/node/server.ts).
//
// One run: purge expired idempotency keys, purge rate-limit windows older than an hour (or than the
// configured window, when longer), expire presigned uploads past their expires_at (rows, then objects),
// then send due webhook deliveries. Each task runs even when an earlier one failed; failures are logged
// through config.logger and listed in the summary, never thrown. Web-standard code only.
import type { EdgeConfig } from './config.ts';
import { purgeExpiredIdempotencyKeys } from './http/idempotency.ts';
import type { Ports } from './ports.ts';
import { type DispatchSummary, dispatchDueWebhooks } from './webhooks/dispatcher.ts';
import type { WebhookSettings } from './webhooks/settings.ts';

/** Rate-limit windows that started this long ago (or longer than the window, if larger) are history. */
export const RATE_WINDOW_RETENTION_MS = 60 * 60 * 1000;
/** Most expired uploads removed per run (the rest go in the next run). */
export const EXPIRED_UPLOADS_BATCH = 500;

export interface BackgroundSummary {
  /** null when the dispatch failed (see errors). */
  webhooks: DispatchSummary | null;
  idempotencyKeysPurged: number;
  rateWindowsPurged: number;
  /** Pending presigned uploads removed (row and object). */
  uploadsExpired: number;
  /** One line per task that failed. */
  errors: string[];
}

export interface BackgroundOptions {
  fetchImpl?: typeof fetch;
}

/** Deletes pending uploads whose expires_at is before `now`: rows first (so a concurrent complete finds nothing), then their objects. */
export async function expirePendingUploads(ports: Pick<Ports, 'db' | 'blobs'>, now: Date, limit = EXPIRED_UPLOADS_BATCH): Promise<number> {
  const { db, blobs } = ports;
  const nowIso = now.toISOString();
  const rows = await db
    .prepare("SELECT id, object_key FROM images WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at < ? ORDER BY expires_at LIMIT ?")
    .bind(nowIso, limit)
    .all<{ id: string; object_key: string }>();
  if (rows.length === 0) return 0;
  const results = await db.batch(
    rows.map((r) => db.prepare("DELETE FROM images WHERE id = ? AND status = 'pending' AND expires_at < ?").bind(r.id, nowIso)),
  );
  const gone = rows.filter((_, i) => results[i].changes === 1);
  // Objects after rows: an upload completed meanwhile (row now 'stored') keeps its object.
  if (gone.length > 0) await blobs.delete(gone.map((r) => r.object_key));
  return gone.length;
}

/** Deletes rate-limit windows that can no longer be the current one. */
export async function purgeOldRateWindows(ports: Pick<Ports, 'db'>, config: Pick<EdgeConfig, 'rateLimit'>, now: Date): Promise<number> {
  const keep = Math.max(RATE_WINDOW_RETENTION_MS, config.rateLimit.windowMs);
  const { changes } = await ports.db.prepare('DELETE FROM rate_windows WHERE window_start < ?').bind(now.getTime() - keep).run();
  return changes;
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
  const summary: BackgroundSummary = { webhooks: null, idempotencyKeysPurged: 0, rateWindowsPurged: 0, uploadsExpired: 0, errors: [] };
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
    summary.uploadsExpired = await expirePendingUploads(ports, now);
  });
  await task('webhooks', async () => {
    summary.webhooks = await dispatchDueWebhooks(ports, webhookSettings, now, opts.fetchImpl ?? fetch);
  });
  return summary;
}

export interface BackgroundTimer {
  /** Runs now unless a run is in progress (then waits for that one); resolves with the summary. */
  runNow(): Promise<BackgroundSummary>;
  /** Stops the interval and waits for a run in progress. */
  stop(): Promise<void>;
}

export interface BackgroundTimerOptions extends BackgroundOptions {
  /** Default 1000 ms. */
  intervalMs?: number;
  /** Called after every completed run (tests, metrics). */
  onRun?: (summary: BackgroundSummary) => void;
}

/** Node: runBackgroundTasks every `intervalMs` (unref'd; a tick during a run is skipped; errors logged, never thrown). */
export function startBackgroundTimer(
  ports: Ports,
  config: EdgeConfig,
  webhookSettings: WebhookSettings,
  opts: BackgroundTimerOptions = {},
): BackgroundTimer {
  const intervalMs = opts.intervalMs ?? 1000;
  if (!(Number.isFinite(intervalMs) && intervalMs > 0)) throw new Error(`background intervalMs must be > 0, got ${intervalMs}`);
  let running: Promise<BackgroundSummary> | null = null;
  let stopped = false;
  const run = (): Promise<BackgroundSummary> => {
    if (running) return running;
    const p = runBackgroundTasks(ports, config, webhookSettings, new Date(), opts)
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
  const handle = setInterval(() => {
    if (!stopped && !running) void run().catch((err) => config.logger.error('[background] run failed', err));
  }, intervalMs);
  (handle as { unref?: () => void }).unref?.();
  return {
    runNow: run,
    async stop() {
      stopped = true;
      clearInterval(handle);
      await running?.catch(() => {});
    },
  };
}
