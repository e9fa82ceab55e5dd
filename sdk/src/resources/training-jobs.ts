// Training jobs: create, read, list, cancel, their event log, and wait() for the end of a job.
import type { RequestOptions } from '../core/http.ts';
import type { CursorList, PageParams } from '../core/pagination.ts';
import { APIResource, path } from '../core/resource.ts';
import type { TrainingJob, TrainingJobCreateParams, TrainingJobEvent, TrainingJobStatus } from '../types.ts';

/** Statuses after which a job changes no more. */
export const FINAL_TRAINING_JOB_STATUSES: readonly TrainingJobStatus[] = ['succeeded', 'failed', 'cancelled'];

export const DEFAULT_POLL_INTERVAL_MS = 1_000;

export interface WaitOptions {
  /** Called with every event of the job, oldest first, each once (awaited before the next). */
  onEvent?: (event: TrainingJobEvent) => void | Promise<void>;
  /** Milliseconds between polls (default 1000). */
  pollInterval?: number;
  /** Stops waiting (rejects with APIUserAbortError); the job itself goes on (cancel() stops it). */
  signal?: AbortSignal;
}

export class TrainingJobs extends APIResource {
  /** POST /v1/training-jobs: queues a job on a ready dataset. */
  create(params: TrainingJobCreateParams, options?: RequestOptions): Promise<TrainingJob> {
    return this.http.request({ method: 'POST', path: '/v1/training-jobs', body: params }, options);
  }

  retrieve(id: string, options?: RequestOptions): Promise<TrainingJob> {
    return this.http.request({ method: 'GET', path: path`/v1/training-jobs/${id}` }, options);
  }

  /** Newest first. */
  list(params: PageParams = {}, options?: RequestOptions): CursorList<TrainingJob> {
    return this.cursorList<TrainingJob>('/v1/training-jobs', { ...params }, options);
  }

  /** Requests the cancel: a queued job is cancelled at once, a running one goes `cancelling` until its worker stops. 409 once final. */
  cancel(id: string, options?: RequestOptions): Promise<TrainingJob> {
    return this.http.request({ method: 'POST', path: path`/v1/training-jobs/${id}/cancel`, retry: 'once' }, options);
  }

  /** The job's events, oldest first; `after` an event id to start after it. */
  events(id: string, params: PageParams = {}, options?: RequestOptions): CursorList<TrainingJobEvent> {
    return this.cursorList<TrainingJobEvent>(path`/v1/training-jobs/${id}/events`, { ...params }, options);
  }

  /**
   * Polls the job until it is succeeded, failed or cancelled and resolves with it (a failed job resolves too: check
   * `status` and `error`). Each poll reads the job, then the events after the last one seen, handing each to `onEvent`;
   * when the job is final, every event it logged has been handed over.
   */
  async wait(id: string, opts: WaitOptions = {}, options: RequestOptions = {}): Promise<TrainingJob> {
    const pollInterval = opts.pollInterval ?? DEFAULT_POLL_INTERVAL_MS;
    const requestOptions = { ...options, signal: opts.signal ?? options.signal };
    let after: string | undefined;
    for (;;) {
      const job = await this.retrieve(id, requestOptions);
      for await (const event of this.events(id, { after, limit: 100 }, requestOptions)) {
        after = event.id;
        await opts.onEvent?.(event);
      }
      if (FINAL_TRAINING_JOB_STATUSES.includes(job.status)) return job;
      await this.http.wait(pollInterval, requestOptions.signal);
    }
  }
}
