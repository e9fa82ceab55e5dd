// The lease of an evaluation (shared/contracts/worker-api.ts EvaluationLease), built by the queue's lease call
// (edge/jobs/queue.ts leaseNextJob) from the row it just took: the evaluation, its dataset's stored images and the
// evaluated model's artifact (null for zero-shot; a model deleted meanwhile is leased as missing and the worker fails
// the evaluation with model_unavailable).
import type { EvaluationLease } from '../../shared/contracts/worker-api.ts';
import { storedImagesOf } from '../datasets/store.ts';
import type { JobRow } from '../jobs/records.ts';
import type { ModelRow } from '../models/models.ts';
import type { SqlDatabase } from '../ports.ts';
import { evaluationObject } from './records.ts';

export async function evaluationLease(db: SqlDatabase, row: JobRow, leaseId: string, expires: number): Promise<EvaluationLease> {
  let model: EvaluationLease['model'] = null;
  if (row.model_id !== null) {
    const m = await db
      .prepare('SELECT id, method, artifact_key, artifact_sha256 FROM models WHERE id = ? AND tenant_id = ?')
      .bind(row.model_id, row.tenant_id)
      .first<Pick<ModelRow, 'id' | 'method' | 'artifact_key' | 'artifact_sha256'>>();
    // A deleted model: point at where it was, with a digest nothing matches, so the worker reports it gone.
    model = m
      ? { id: m.id, method: m.method as 'cocoop' | 'coop', artifact_key: m.artifact_key, sha256: m.artifact_sha256 }
      : { id: row.model_id, method: row.method === 'coop' ? 'coop' : 'cocoop', artifact_key: `deleted/${row.model_id}`, sha256: '0'.repeat(64) };
  }
  return {
    kind: 'evaluation',
    evaluation: evaluationObject(row),
    tenant_id: row.tenant_id,
    attempts: row.attempts,
    lease_id: leaseId,
    lease_expires_at: new Date(expires).toISOString(),
    model,
    dataset: { id: row.dataset_id, images: await storedImagesOf(db, row.tenant_id, row.dataset_id) },
  };
}
