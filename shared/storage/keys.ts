// Every object key in the bucket, built here and nowhere else. Keys are server-generated from ids (never
// from user input), grouped per tenant so one prefix holds everything a tenant owns:
//
//   tenants/{tenant}/datasets/{dataset}/images/{image}.{jpg|png|webp}   uploaded images (edge)
//   tenants/{tenant}/jobs/{job}/checkpoints/epoch-{NNNN}.ckpt.safetensors per-epoch checkpoints (trainer)
//   tenants/{tenant}/jobs/{job}/checkpoints/latest.json                  {epoch, key} of the newest checkpoint
//   tenants/{tenant}/models/{model}/adapter.safetensors                  the published adapter (trainer)
//
// The lease hands the trainer its job's checkpoint prefix and artifact key; the trainer derives the
// checkpoint and pointer keys from the prefix with the functions below.

export type ImageExtension = 'jpg' | 'png' | 'webp';

export function imageKey(tenantId: string, datasetId: string, imageId: string, extension: ImageExtension): string {
  return `tenants/${tenantId}/datasets/${datasetId}/images/${imageId}.${extension}`;
}

/** Where a job's checkpoints live (ends with a slash). */
export function checkpointPrefix(tenantId: string, jobId: string): string {
  return `tenants/${tenantId}/jobs/${jobId}/checkpoints/`;
}

export function checkpointKey(prefix: string, epoch: number): string {
  return `${prefix}epoch-${String(epoch).padStart(4, '0')}.ckpt.safetensors`;
}

/** The small JSON object {epoch, key} naming the newest checkpoint under `prefix`. */
export function latestCheckpointPointerKey(prefix: string): string {
  return `${prefix}latest.json`;
}

export function adapterKey(tenantId: string, modelId: string): string {
  return `tenants/${tenantId}/models/${modelId}/adapter.safetensors`;
}
