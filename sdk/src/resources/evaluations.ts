// Evaluations: score a model (or zero-shot CLIP) on a ready dataset; wait() for the result.
import type { RequestOptions } from '../core/http.ts';
import type { CursorList, PageParams } from '../core/pagination.ts';
import { APIResource, path } from '../core/resource.ts';
import type { Evaluation, EvaluationCreateParams, EvaluationStatus } from '../types.ts';
import { DEFAULT_POLL_INTERVAL_MS } from './training-jobs.ts';

export const FINAL_EVALUATION_STATUSES: readonly EvaluationStatus[] = ['succeeded', 'failed'];

export class Evaluations extends APIResource {
  /** POST /v1/evaluations: queued (202); the result arrives when a worker has run it. */
  create(params: EvaluationCreateParams, options?: RequestOptions): Promise<Evaluation> {
    return this.http.request({ method: 'POST', path: '/v1/evaluations', body: params }, options);
  }

  retrieve(id: string, options?: RequestOptions): Promise<Evaluation> {
    return this.http.request({ method: 'GET', path: path`/v1/evaluations/${id}` }, options);
  }

  /** Newest first. */
  list(params: PageParams = {}, options?: RequestOptions): CursorList<Evaluation> {
    return this.cursorList<Evaluation>('/v1/evaluations', { ...params }, options);
  }

  /** Polls until the evaluation succeeded or failed and resolves with it. */
  async wait(id: string, opts: { pollInterval?: number; signal?: AbortSignal } = {}, options: RequestOptions = {}): Promise<Evaluation> {
    const requestOptions = { ...options, signal: opts.signal ?? options.signal };
    for (;;) {
      const evaluation = await this.retrieve(id, requestOptions);
      if (FINAL_EVALUATION_STATUSES.includes(evaluation.status)) return evaluation;
      await this.http.wait(opts.pollInterval ?? DEFAULT_POLL_INTERVAL_MS, requestOptions.signal);
    }
  }
}
