// Every object key in the bucket, built here and nowhere else. Keys are server-generated from ids (never
// from user input), grouped per tenant so one prefix holds everything a tenant owns:
//
//   tenants/{tenant}/datasets/{dataset}/images/{image}.{jpg|png|webp}   uploaded images (edge)
//   tenants/{tenant}/uploads/{dataset}/{image}.{jpg|png|webp}          presigned uploads before verification (staging)
//   tenants/{tenant}/jobs/{job}/attempts/{n}/checkpoints/epoch-{NNNN}.ckpt.safetensors  per-epoch checkpoints (trainer)
//   tenants/{tenant}/jobs/{job}/attempts/{n}/checkpoints/latest.json   {epoch, key} of the attempt's newest checkpoint
//   tenants/{tenant}/models/{model}/attempts/{n}/adapter.safetensors   the adapter of attempt n (trainer); the model
//                                                                      row records the one attempt that published
//
// Every attempt (lease) of a job writes under its own keys, so a worker whose lease was superseded — it lost the edge
// and kept training while another worker took the job over — can never overwrite what the current attempt wrote or
// what a finished job published (fencing by key). A resumed attempt reads the checkpoints of the earlier ones.
// Jobs leased before per-attempt keys existed wrote tenants/{tenant}/jobs/{job}/checkpoints/… and
// tenants/{tenant}/models/{model}/adapter.safetensors; their models keep the key recorded in their rows.
//
// The lease hands the trainer its attempt's checkpoint prefix, the earlier attempts' prefixes and its artifact key;
// the trainer derives the checkpoint and pointer keys from a prefix with the functions below. parseObjectKey reads a
// key back (the edge's bucket reconciliation, edge/bucket/); a key of any other shape is nobody's known kind.

export type ImageExtension = 'jpg' | 'png' | 'webp';

export function imageKey(tenantId: string, datasetId: string, imageId: string, extension: ImageExtension): string {
  return `tenants/${tenantId}/datasets/${datasetId}/images/${imageId}.${extension}`;
}

/**
 * Where a presigned upload PUTs an image before the edge verifies it: tenants/{tenant}/uploads/{dataset}/{image}.{ext}.
 * The edge copies the verified bytes to imageKey (which no URL can write) and removes staging objects.
 */
export function uploadStagingKey(tenantId: string, datasetId: string, imageId: string, extension: ImageExtension): string {
  return `tenants/${tenantId}/uploads/${datasetId}/${imageId}.${extension}`;
}

/** Where attempt `attempt` (1-based) of a job writes its checkpoints (ends with a slash). */
export function checkpointPrefix(tenantId: string, jobId: string, attempt: number): string {
  return `tenants/${tenantId}/jobs/${jobId}/attempts/${attempt}/checkpoints/`;
}

export function checkpointKey(prefix: string, epoch: number): string {
  return `${prefix}epoch-${String(epoch).padStart(4, '0')}.ckpt.safetensors`;
}

/** The small JSON object {epoch, key} naming the newest checkpoint under `prefix`. */
export function latestCheckpointPointerKey(prefix: string): string {
  return `${prefix}latest.json`;
}

/** Where attempt `attempt` (1-based) of the job that publishes `modelId` uploads the adapter. */
export function adapterKey(tenantId: string, modelId: string, attempt: number): string {
  return `tenants/${tenantId}/models/${modelId}/attempts/${attempt}/adapter.safetensors`;
}

/** What a key of the bucket is, read back from its shape (the inverse of the functions above). */
export type ParsedKey =
  | { kind: 'image'; tenantId: string; datasetId: string; imageId: string; extension: ImageExtension }
  | { kind: 'staging'; tenantId: string; datasetId: string; imageId: string; extension: ImageExtension }
  /** attempt null: a job leased before per-attempt keys (…/jobs/{job}/checkpoints/…). */
  | { kind: 'checkpoint'; tenantId: string; jobId: string; attempt: number | null }
  /** attempt null: an adapter published before per-attempt keys (…/models/{model}/adapter.safetensors). */
  | { kind: 'adapter'; tenantId: string; modelId: string; attempt: number | null };

const ID = '([A-Za-z0-9_-]+)';
const ATTEMPT = '([1-9][0-9]{0,8})';
const CHECKPOINT_FILE = '(?:epoch-[0-9]{4,}\\.ckpt\\.safetensors|latest\\.json)';
const KEY_SHAPES: [RegExp, (m: RegExpExecArray) => ParsedKey][] = [
  [new RegExp(`^tenants/${ID}/datasets/${ID}/images/${ID}\\.(jpg|png|webp)$`), (m) => ({ kind: 'image', tenantId: m[1], datasetId: m[2], imageId: m[3], extension: m[4] as ImageExtension })],
  [new RegExp(`^tenants/${ID}/uploads/${ID}/${ID}\\.(jpg|png|webp)$`), (m) => ({ kind: 'staging', tenantId: m[1], datasetId: m[2], imageId: m[3], extension: m[4] as ImageExtension })],
  [new RegExp(`^tenants/${ID}/jobs/${ID}/attempts/${ATTEMPT}/checkpoints/${CHECKPOINT_FILE}$`), (m) => ({ kind: 'checkpoint', tenantId: m[1], jobId: m[2], attempt: Number(m[3]) })],
  [new RegExp(`^tenants/${ID}/jobs/${ID}/checkpoints/${CHECKPOINT_FILE}$`), (m) => ({ kind: 'checkpoint', tenantId: m[1], jobId: m[2], attempt: null })],
  [new RegExp(`^tenants/${ID}/models/${ID}/attempts/${ATTEMPT}/adapter\\.safetensors$`), (m) => ({ kind: 'adapter', tenantId: m[1], modelId: m[2], attempt: Number(m[3]) })],
  [new RegExp(`^tenants/${ID}/models/${ID}/adapter\\.safetensors$`), (m) => ({ kind: 'adapter', tenantId: m[1], modelId: m[2], attempt: null })],
];

/** The kind and ids of `key` when it has one of the shapes above exactly; null for any other key. */
export function parseObjectKey(key: string): ParsedKey | null {
  for (const [shape, read] of KEY_SHAPES) {
    const m = shape.exec(key);
    if (m) return read(m);
  }
  return null;
}
