// Prometheus metrics of a worker process's inference server (GET /metrics, behind the worker/metrics token), with
// prom-client: HTTP requests and latency by route, the micro-batches the model ran (images per batch and seconds per
// batch), text-embedding calls, the adapter cache, the trainer beside it when there is one (busy, jobs by outcome), and
// prom-client's process metrics. One registry per server (tests run several in one process); the process metrics are
// registered once per process and merged in on each scrape.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { processMetrics } from '../../shared/metrics/process-metrics.ts';
import type { JobOutcome } from '../trainer/reporter.ts';
import type { AdapterCacheStats } from './adapter-cache.ts';

/** What the metrics read of a trainer (gpu-worker/trainer/trainer.ts has these fields). */
export interface TrainerStatus {
  /** The job or evaluation being worked on; null while idle. */
  readonly current: string | null;
  /** One entry per job or evaluation this trainer finished working on, in order. */
  readonly outcomes: readonly { outcome: JobOutcome }[];
}

const OUTCOMES: readonly JobOutcome[] = ['succeeded', 'failed', 'cancelled', 'lease_lost', 'abandoned'];

export class InferenceMetrics {
  private readonly registry = new Registry();
  private trainer: TrainerStatus | null = null;

  readonly requests = new Counter({
    name: 'inference_requests_total',
    help: 'HTTP requests by route and status.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'inference_request_duration_seconds',
    help: 'HTTP request latency by route.',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly imageBatch = new Histogram({
    name: 'inference_image_batch_size',
    help: 'Images per image-encoder call (after micro-batching).',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });
  readonly batchLatency = new Histogram({
    name: 'inference_batch_duration_seconds',
    help: 'Seconds one classify micro-batch spent on the model: image encoding and logits for all its images.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly textBatch = new Histogram({
    name: 'inference_text_batch_size',
    help: 'Texts per text-embeddings call.',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });

  constructor(adapterCache: () => AdapterCacheStats) {
    const registers = [this.registry];
    new Counter({
      name: 'inference_adapter_cache_hits_total',
      help: 'Adapter cache hits.',
      registers,
      collect() {
        this.reset();
        this.inc(adapterCache().hits);
      },
    });
    new Counter({
      name: 'inference_adapter_cache_misses_total',
      help: 'Adapter cache misses (downloads).',
      registers,
      collect() {
        this.reset();
        this.inc(adapterCache().misses);
      },
    });
    new Gauge({
      name: 'inference_adapter_cache_entries',
      help: 'Adapters held in the cache.',
      registers,
      collect() {
        this.set(adapterCache().size);
      },
    });
    const status = () => this.trainer;
    new Gauge({
      name: 'worker_trainer_busy',
      help: '1 while the trainer beside this server works on a job or evaluation; 0 while it is idle or when there is no trainer.',
      registers,
      collect() {
        this.set(status()?.current ? 1 : 0);
      },
    });
    new Counter({
      name: 'worker_trainer_jobs_total',
      help: 'Jobs and evaluations the trainer finished working on, by outcome (lease_lost and abandoned: another worker resumes them).',
      labelNames: ['outcome'] as const,
      registers,
      collect() {
        this.reset();
        const t = status();
        if (!t) return;
        for (const outcome of OUTCOMES) this.inc({ outcome }, t.outcomes.filter((o) => o.outcome === outcome).length);
      },
    });
  }

  /** Reports the trainer sharing this process (worker-process.ts). */
  watchTrainer(trainer: TrainerStatus): void {
    this.trainer = trainer;
  }

  readonly contentType = this.registry.contentType;

  async render(): Promise<string> {
    return Registry.merge([this.registry, processMetrics()]).metrics();
  }
}
