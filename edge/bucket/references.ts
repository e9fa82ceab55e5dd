// Which objects of the bucket the database refers to, for the bucket reconciliation (reconcile.ts). An object is
// referred to when a sweep record names its key (blob_sweeps: the record-based sweep in datasets/sweeps.ts owns it and
// removes it when due, after its own grace periods), or by kind (key shapes: shared/storage/keys.ts):
//   image       an images row has this object_key (stored, or pending: a presigned upload's image key);
//   staging     the images row of its image id is still pending (its presigned URL may still be used) and names
//               this staging key;
//   checkpoint  its job is a training job that has not ended (queued, running, cancelling) and the attempt is one
//               it has had (1..attempts): a resumed attempt reads every earlier attempt's checkpoints (the lease's
//               resume_prefixes), so none of them is superseded while the job runs; legacy keys (no attempt) of
//               such a job too. Once the job ended (or its row is gone) nothing reads them;
//   adapter     a models row has this artifact_key, or the job that publishes the model has not ended and the key is
//               its current attempt's (the trainer uploads before /complete); an earlier attempt's adapter is
//               never published (/complete takes only the current attempt's key).
// Each lookup is one statement by primary key or index, its keys or ids bound as one JSON array (json_each), so it
// binds one value however many objects a page has (D1 binds at most 100).
import type { ParsedKey } from '../../shared/storage/keys.ts';
import { stagingKeyOf } from '../datasets/uploads.ts';
import type { ImageContentType } from '../datasets/image-probe.ts';
import { jobIdOfModel } from '../jobs/records.ts';
import type { SqlDatabase } from '../ports.ts';

export interface KnownObject {
  key: string;
  parsed: ParsedKey;
}

interface JobFacts {
  tenant_id: string;
  kind: string;
  status: string;
  attempts: number;
}

const UNFINISHED = new Set(['queued', 'running', 'cancelling']);

async function column(db: SqlDatabase, sql: string, values: string[], name: string): Promise<Set<string>> {
  if (values.length === 0) return new Set();
  const rows = await db.prepare(sql).bind(JSON.stringify([...new Set(values)])).all<Record<string, string>>();
  return new Set(rows.map((r) => r[name]));
}

async function rowsById<T extends { id: string }>(db: SqlDatabase, sql: string, ids: string[]): Promise<Map<string, T>> {
  if (ids.length === 0) return new Map();
  const rows = await db.prepare(sql).bind(JSON.stringify([...new Set(ids)])).all<T>();
  return new Map(rows.map((r) => [r.id, r]));
}

/** The unfinished training job `jobId` of `tenantId`, else null. */
function liveJob(jobs: Map<string, JobFacts & { id: string }>, tenantId: string, jobId: string): JobFacts | null {
  const j = jobs.get(jobId);
  return j && j.tenant_id === tenantId && j.kind === 'training' && UNFINISHED.has(j.status) ? j : null;
}

/** The keys of `objects` that a row or a sweep record refers to (see the header for the rule of each kind). */
export async function referencedKeys(db: SqlDatabase, objects: KnownObject[]): Promise<Set<string>> {
  const of = <K extends ParsedKey['kind']>(kind: K) => objects.filter((o): o is { key: string; parsed: Extract<ParsedKey, { kind: K }> } => o.parsed.kind === kind);
  const images = of('image');
  const staging = of('staging');
  const checkpoints = of('checkpoint');
  const adapters = of('adapter');

  const recorded = await column(db, 'SELECT object_key FROM blob_sweeps WHERE object_key IN (SELECT value FROM json_each(?))', objects.map((o) => o.key), 'object_key');
  const imageKeys = await column(db, 'SELECT object_key FROM images WHERE object_key IN (SELECT value FROM json_each(?))', images.map((o) => o.key), 'object_key');
  const uploads = await rowsById<{ id: string; tenant_id: string; dataset_id: string; content_type: ImageContentType; status: string }>(
    db,
    'SELECT id, tenant_id, dataset_id, content_type, status FROM images WHERE id IN (SELECT value FROM json_each(?))',
    staging.map((o) => o.parsed.imageId),
  );
  const jobs = await rowsById<JobFacts & { id: string }>(
    db,
    'SELECT id, tenant_id, kind, status, attempts FROM training_jobs WHERE id IN (SELECT value FROM json_each(?))',
    [...checkpoints.map((o) => o.parsed.jobId), ...adapters.map((o) => jobIdOfModel(o.parsed.modelId))],
  );
  const models = await rowsById<{ id: string; artifact_key: string }>(
    db,
    'SELECT id, artifact_key FROM models WHERE id IN (SELECT value FROM json_each(?))',
    adapters.map((o) => o.parsed.modelId),
  );

  const referenced = new Set<string>();
  for (const o of objects) if (recorded.has(o.key)) referenced.add(o.key);
  for (const o of images) if (imageKeys.has(o.key)) referenced.add(o.key);
  for (const o of staging) {
    const row = uploads.get(o.parsed.imageId);
    if (row && row.status === 'pending' && stagingKeyOf(row) === o.key) referenced.add(o.key);
  }
  for (const o of checkpoints) {
    const job = liveJob(jobs, o.parsed.tenantId, o.parsed.jobId);
    if (job && (o.parsed.attempt === null || o.parsed.attempt <= Number(job.attempts))) referenced.add(o.key);
  }
  for (const o of adapters) {
    const model = models.get(o.parsed.modelId);
    if (model && model.artifact_key === o.key) referenced.add(o.key);
    const job = liveJob(jobs, o.parsed.tenantId, jobIdOfModel(o.parsed.modelId));
    if (job && (o.parsed.attempt === null || o.parsed.attempt === Number(job.attempts))) referenced.add(o.key);
  }
  return referenced;
}
