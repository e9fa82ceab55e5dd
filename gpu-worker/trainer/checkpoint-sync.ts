// A job's training checkpoints between the local checkpoint folder and the blob store (keys: shared/storage/keys.ts).
// After each epoch the newest local checkpoint is uploaded under the attempt's own checkpoint prefix, then the small
// {epoch, key} pointer to it (so a resume needs no bucket listing); a re-leased job reads the pointers of the earlier attempts,
// downloads the newest checkpoint among them and resumes from it. One upload at a time: a tick while one runs is skipped, and a failed upload (S3 down)
// is logged and tried again on the next tick — training never waits for storage.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { checkpointKey, latestCheckpointPointerKey } from '../../shared/storage/keys.ts';
import { checkpointPath, latestCheckpoint } from '../cocoop/checkpoint.ts';
import { errorMessage } from './errors.ts';
import type { JobStop } from './job-stop.ts';
import type { TrainerBlobs } from './storage.ts';

export interface CheckpointSyncOptions {
  jobId: string;
  blobs: TrainerBlobs;
  /** The lease's storage.checkpoint_prefix: where this attempt writes. */
  prefix: string;
  /** The lease's storage.resume_prefixes: the earlier attempts' prefixes, read on resume. */
  resumePrefixes: string[];
  /** The local checkpoint folder training writes to (and resumes from). */
  dir: string;
  stop: JobStop;
  log: (line: string) => void;
  /** After the checkpoint of `epoch` (1-based) is uploaded and the pointer names it. */
  afterUpload?: (epoch: number) => void | Promise<void>;
}

export class CheckpointSync {
  private uploaded = 0;
  private running: Promise<void> | null = null;

  constructor(private readonly o: CheckpointSyncOptions) {}

  /** Epochs covered by the checkpoint last uploaded (or resumed from). */
  get uploadedEpoch(): number {
    return this.uploaded;
  }

  /**
   * The newest checkpoint the earlier attempts uploaded, fetched into the local folder: its epoch, or null when there
   * is none or it cannot be fetched (logged; the job then starts over).
   */
  async fetchLatest(): Promise<number | null> {
    const { blobs, dir } = this.o;
    try {
      let best: { epoch: number; key: string } | null = null;
      for (const prefix of this.o.resumePrefixes) {
        const pointer = await blobs.get(latestCheckpointPointerKey(prefix));
        if (!pointer) continue;
        const { epoch, key } = JSON.parse(new TextDecoder().decode(pointer)) as { epoch: unknown; key: unknown };
        if (!Number.isInteger(epoch) || typeof key !== 'string') throw new Error(`the checkpoint pointer under ${prefix} is not {epoch, key}`);
        if (!best || (epoch as number) > best.epoch) best = { epoch: epoch as number, key };
      }
      if (!best) return null;
      const bytes = await blobs.get(best.key);
      if (!bytes) return null;
      mkdirSync(dir, { recursive: true });
      writeFileSync(checkpointPath(dir, best.epoch), bytes);
      this.uploaded = best.epoch;
      return best.epoch;
    } catch (err) {
      this.o.log(`job ${this.o.jobId}: could not fetch the latest checkpoint (${errorMessage(err)}); starting over`);
      return null;
    }
  }

  /** Starts uploading the newest local checkpoint if it is newer than the last uploaded one and no upload runs. */
  uploadNewest(): void {
    if (this.running || this.o.stop.reason === 'lease_lost') return;
    const latest = latestCheckpoint(this.o.dir);
    if (!latest || latest.epochsDone <= this.uploaded) return;
    this.running = this.upload(latest.path, latest.epochsDone).finally(() => {
      this.running = null;
    });
  }

  /** Resolves when no upload is running. */
  async settle(): Promise<void> {
    await this.running;
  }

  private async upload(path: string, epoch: number): Promise<void> {
    const { blobs, prefix, jobId, log } = this.o;
    try {
      const key = checkpointKey(prefix, epoch);
      await blobs.put(key, readFileSync(path), 'application/octet-stream');
      await blobs.put(latestCheckpointPointerKey(prefix), new TextEncoder().encode(JSON.stringify({ epoch, key })), 'application/json');
      this.uploaded = epoch;
      log(`job ${jobId}: uploaded the checkpoint of epoch ${epoch}`);
      await this.o.afterUpload?.(epoch);
    } catch (err) {
      log(`job ${jobId}: checkpoint upload failed: ${errorMessage(err)}`);
    }
  }
}
