// What running one leased piece of work needs — a training job (run-job.ts) or an evaluation (run-evaluation.ts):
// the edge client, storage, the loaded model with its encoders and inference engine, scratch space and timings.
import type { ClipModel } from '../clip/model.ts';
import type { OrtClipEncoders } from '../clip/ort-encoders.ts';
import type { CocoopInference } from '../cocoop/ort-inference.ts';
import type { EdgeClient } from './edge-client.ts';
import type { TrainerBlobs } from './storage.ts';

export interface WorkDeps {
  client: EdgeClient;
  blobs: TrainerBlobs;
  model: ClipModel;
  encoders: OrtClipEncoders;
  /** Classifies validation and evaluation images (shared with the inference server in a worker process). */
  inference: CocoopInference;
  /** Scratch space; <workDir>/<id> is removed when the work is done. */
  workDir: string;
  /** Lease length asked for on every heartbeat (default: the edge's default). */
  leaseSeconds?: number;
  /** Heartbeat period (default 5 s; a job also uploads checkpoints on it); progress heartbeats are at most this often too. */
  heartbeatMs?: number;
  /** The trainer is stopping: abandon the work after the current step (no report; the lease expires). */
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** How long a failing blob store read or write is retried before the work fails (default 120 s). */
  storageRetryMs?: number;
  /** How long the final report (/complete, /result, /fail, /cancelled) is retried while the edge is unreachable (default 300 s). */
  reportRetryMs?: number;
}
