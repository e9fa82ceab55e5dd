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
// the trainer derives the checkpoint and pointer keys from a prefix with the functions below.

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
