// The operations figures read from the database at scrape time, the same on both runtimes: the work queue (training
// jobs and evaluations share training_jobs, told apart by `kind`) and the webhook outbox. Served as Prometheus gauges
// by GET /metrics (Node, edge/metrics/prometheus.ts), as JSON by GET /metrics.json, and the queue part alone by
// GET /metrics/queue (KEDA's metrics-api scaler; infra/k8s/scaledobject.yaml).
//
// Four statements, each searching an index that leads with `status` (EXPLAIN QUERY PLAN in
// test/edge/metrics/ops-figures.test.ts): unfinished work by status, the last hour's finished work by (status,
// finished_at), and the outbox's pending and failed rows by status. Their cost grows with the unfinished work and the
// pending/failed deliveries, never with the history of finished jobs or sent webhooks.
import type { SqlDatabase } from '../ports.ts';

export const WORK_KINDS = ['training', 'evaluation'] as const;
export type WorkKind = (typeof WORK_KINDS)[number];
/** The states of unfinished work (a row leaves them when it ends). */
export const UNFINISHED_STATES = ['queued', 'running', 'cancelling'] as const;
export const FINISHED_STATES = ['succeeded', 'failed', 'cancelled'] as const;
/** How far back `finished_last_hour` counts. */
export const FINISHED_WINDOW_MS = 3_600_000;

type Counts<S extends string> = Record<S, number>;

/** What KEDA scales the worker pool on (GET /metrics/queue). */
export interface QueueDepth {
  /** Queued training jobs and evaluations: waiting for a worker. */
  queued: number;
  /** Leased ones (running or cancelling): each holds a worker until it ends or its lease expires. */
  running: number;
  /** queued + running: how many workers the queue can keep busy (one job per worker). */
  demand: number;
  /** Age of the oldest queued job or evaluation in whole seconds; 0 when none is queued. */
  oldest_queued_seconds: number;
}

export interface WebhookBacklog {
  /** Deliveries not yet sent successfully and still to be tried. */
  pending: number;
  /** Pending deliveries that have failed at least once (being retried). */
  retrying: number;
  /** Deliveries that gave up (schedule ended, endpoint gone or disabled), kept for RETENTION_DAYS. */
  failed: number;
  /** Age of the oldest pending delivery in whole seconds; 0 when none is pending. */
  oldest_pending_seconds: number;
}

export interface OpsFigures {
  generated_at: string;
  /** Unfinished work by kind and state. */
  jobs: Record<WorkKind, Counts<(typeof UNFINISHED_STATES)[number]>>;
  /** Work that ended in the last hour, by kind and final state. */
  jobs_finished_last_hour: Record<WorkKind, Counts<(typeof FINISHED_STATES)[number]>>;
  queue: QueueDepth;
  webhooks: WebhookBacklog;
}

const inList = (states: readonly string[]) => `(${states.map((s) => `'${s}'`).join(', ')})`;

function zeros<S extends string>(states: readonly S[]): Record<WorkKind, Counts<S>> {
  const one = () => Object.fromEntries(states.map((s) => [s, 0])) as Counts<S>;
  return { training: one(), evaluation: one() };
}

/** Whole seconds from an ISO timestamp to `now` (0 for none or a clock behind it). */
function ageSeconds(iso: string | null, now: Date): number {
  if (!iso) return 0;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? Math.max(0, Math.floor((now.getTime() - t) / 1000)) : 0;
}

/** The statements behind the figures, by name (the query-plan test reads them). */
export const OPS_QUERIES = {
  unfinished: `SELECT kind, status, COUNT(*) AS n, MIN(created_at) AS oldest FROM training_jobs
                WHERE status IN ${inList(UNFINISHED_STATES)} GROUP BY kind, status`,
  finished: `SELECT kind, status, COUNT(*) AS n FROM training_jobs
              WHERE status IN ${inList(FINISHED_STATES)} AND finished_at >= ? GROUP BY kind, status`,
  pendingDeliveries: `SELECT COUNT(*) AS n, SUM(attempts > 0) AS retrying, MIN(created_at) AS oldest
                        FROM webhook_deliveries WHERE status = 'pending'`,
  failedDeliveries: `SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'failed'`,
} as const;

interface StateRow {
  kind: string;
  status: string;
  n: number;
  oldest?: string | null;
}

const isKind = (k: string): k is WorkKind => (WORK_KINDS as readonly string[]).includes(k);

/** Unfinished work by kind and state, and the queue depth: one indexed statement. */
export async function unfinishedWork(db: SqlDatabase, now: Date = new Date()): Promise<Pick<OpsFigures, 'jobs' | 'queue'>> {
  const rows = await db.prepare(OPS_QUERIES.unfinished).all<StateRow>();
  const jobs = zeros(UNFINISHED_STATES);
  let oldestQueued: string | null = null;
  for (const r of rows) {
    if (!isKind(r.kind) || !(r.status in jobs[r.kind])) continue;
    jobs[r.kind][r.status as (typeof UNFINISHED_STATES)[number]] = Number(r.n);
    if (r.status === 'queued' && r.oldest && (oldestQueued === null || r.oldest < oldestQueued)) oldestQueued = r.oldest;
  }
  const queued = jobs.training.queued + jobs.evaluation.queued;
  const running = jobs.training.running + jobs.training.cancelling + jobs.evaluation.running + jobs.evaluation.cancelling;
  return { jobs, queue: { queued, running, demand: queued + running, oldest_queued_seconds: ageSeconds(oldestQueued, now) } };
}

/** Reads all the figures (four indexed statements, run concurrently). */
export async function opsFigures(db: SqlDatabase, now: Date = new Date()): Promise<OpsFigures> {
  const since = new Date(now.getTime() - FINISHED_WINDOW_MS).toISOString();
  const [work, finished, pending, failed] = await Promise.all([
    unfinishedWork(db, now),
    db.prepare(OPS_QUERIES.finished).bind(since).all<StateRow>(),
    db.prepare(OPS_QUERIES.pendingDeliveries).first<{ n: number; retrying: number | null; oldest: string | null }>(),
    db.prepare(OPS_QUERIES.failedDeliveries).first<{ n: number }>(),
  ]);
  const jobsFinished = zeros(FINISHED_STATES);
  for (const r of finished) {
    if (!isKind(r.kind) || !(r.status in jobsFinished[r.kind])) continue;
    jobsFinished[r.kind][r.status as (typeof FINISHED_STATES)[number]] = Number(r.n);
  }
  return {
    generated_at: now.toISOString(),
    jobs: work.jobs,
    jobs_finished_last_hour: jobsFinished,
    queue: work.queue,
    webhooks: {
      pending: Number(pending?.n ?? 0),
      retrying: Number(pending?.retrying ?? 0),
      failed: Number(failed?.n ?? 0),
      oldest_pending_seconds: ageSeconds(pending?.oldest ?? null, now),
    },
  };
}
