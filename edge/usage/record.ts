// Recording billable usage (read back by GET /v1/usage, edge/usage/report.ts). Every figure is written before the
// answer that reports its success, so what a customer was answered with is in the database:
//
//   classify, text embeddings   one upsert of the tenant's row of the UTC day (usage_daily) per successful call,
//                               awaited by the route before it answers 200 — one small write per billable call, and
//                               no write at all for a refused or failed one
//   training jobs, evaluations  one row per job (usage_work, keyed by the job id) in the same batch as the job's
//                               final transition (edge/jobs/transitions.ts): the batch is all or nothing and
//                               guarded by the job's state and lease, so a retried /complete (409) writes nothing,
//                               and the key makes a second row of one job impossible
//   storage                     the background task's daily snapshot (edge/usage/storage.ts)
import type { SqlDatabase, SqlStatement } from '../ports.ts';

/** The UTC day of a time, YYYY-MM-DD: the bucket a figure is counted in. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The counters of usage_daily added to by calls. */
type CallMeter = 'classify_requests' | 'classify_images' | 'embedding_texts';

function addToDay(db: SqlDatabase, tenantId: string, day: string, add: Partial<Record<CallMeter, number>>): SqlStatement {
  const r = add.classify_requests ?? 0;
  const i = add.classify_images ?? 0;
  const e = add.embedding_texts ?? 0;
  return db
    .prepare(
      `INSERT INTO usage_daily (tenant_id, day, classify_requests, classify_images, embedding_texts) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, day) DO UPDATE SET
         classify_requests = classify_requests + excluded.classify_requests,
         classify_images = classify_images + excluded.classify_images,
         embedding_texts = embedding_texts + excluded.embedding_texts`,
    )
    .bind(tenantId, day, r, i, e);
}

/** One successful POST /v1/classify of `images` images. */
export async function recordClassify(db: SqlDatabase, tenantId: string, images: number, now = new Date()): Promise<void> {
  await addToDay(db, tenantId, utcDay(now), { classify_requests: 1, classify_images: images }).run();
}

/** One successful POST /v1/embeddings/text of `texts` texts (those served from the cache included). */
export async function recordEmbeddingTexts(db: SqlDatabase, tenantId: string, texts: number, now = new Date()): Promise<void> {
  await addToDay(db, tenantId, utcDay(now), { embedding_texts: texts }).run();
}

/** What a job or an evaluation that ends needs for its usage row. */
export interface EndedWork {
  id: string;
  tenant_id: string;
  kind: 'training' | 'evaluation';
  method: 'cocoop' | 'coop' | 'zero-shot';
  /** When its first lease started it (null: it never ran, e.g. cancelled while queued: nothing to count). */
  started_at: string | null;
  finished_at: string | null;
}

/**
 * The usage row of a job or evaluation reaching its final state (succeeded, failed or cancelled after it ran), for the
 * batch of that transition; none when it never started. Its running time is finished_at - started_at as the edge
 * recorded them (queue time before the first lease is not counted; time between a lost lease and the next one is),
 * counted on the UTC day it ended.
 */
export function endedWorkStatements(db: SqlDatabase, w: EndedWork): SqlStatement[] {
  if (w.started_at === null || w.finished_at === null) return [];
  const ms = Math.max(0, Date.parse(w.finished_at) - Date.parse(w.started_at));
  if (!Number.isFinite(ms)) return [];
  return [
    db
      .prepare(
        `INSERT INTO usage_work (job_id, tenant_id, day, kind, method, duration_ms, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (job_id) DO NOTHING`,
      )
      .bind(w.id, w.tenant_id, utcDay(new Date(w.finished_at)), w.kind, w.method, ms, w.started_at, w.finished_at),
  ];
}
