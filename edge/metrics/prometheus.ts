// The edge's Prometheus exposition on Node (GET /metrics), with prom-client: request counters and latencies by route
// template, the database figures (edge/metrics/ops-figures.ts) as gauges set at scrape time, and prom-client's
// process metrics. One registry per edge (tests run several edges in one process); the process metrics are
// registered once per process, in their own registry, and merged in on each scrape.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { processMetrics } from '../../shared/metrics/process-metrics.ts';
import type { MetricsExporter, RequestSample } from './exporter.ts';
import { FINISHED_STATES, type OpsFigures, UNFINISHED_STATES, WORK_KINDS } from './ops-figures.ts';

/** Request latency buckets (seconds): from a cached read to a slow classify call. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class PrometheusMetrics implements MetricsExporter {
  private readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'edge_http_requests_total',
    help: 'Requests answered, by method, route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'edge_http_request_duration_seconds',
    help: 'Seconds from a request to its response, by method and route template.',
    labelNames: ['method', 'route'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly jobs = this.gauge('edge_jobs', 'Unfinished training jobs and evaluations, by kind and state (queued, running, cancelling).', ['kind', 'state']);
  private readonly finished = this.gauge('edge_jobs_finished_last_hour', 'Training jobs and evaluations that ended in the last hour, by kind and final state.', ['kind', 'state']);
  private readonly depth = this.gauge('edge_job_queue_depth', 'Queued training jobs and evaluations (waiting for a worker).');
  private readonly running = this.gauge('edge_job_queue_running', 'Leased training jobs and evaluations (running or cancelling), each holding a worker.');
  private readonly oldest = this.gauge('edge_job_queue_oldest_age_seconds', 'Age of the oldest queued job or evaluation; 0 when none is queued.');
  private readonly deliveries = this.gauge('edge_webhook_deliveries', 'Webhook deliveries by state: pending (to be tried) and failed (gave up; kept for RETENTION_DAYS).', ['state']);
  private readonly retrying = this.gauge('edge_webhook_deliveries_retrying', 'Pending webhook deliveries that have failed at least once.');
  private readonly backlogAge = this.gauge('edge_webhook_backlog_oldest_age_seconds', 'Age of the oldest pending webhook delivery; 0 when none is pending.');

  private gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  observeRequest(s: RequestSample): void {
    this.requests.inc({ method: s.method, route: s.route, status: String(s.status) });
    this.latency.observe({ method: s.method, route: s.route }, s.seconds);
  }

  async render(f: OpsFigures): Promise<{ contentType: string; body: string }> {
    for (const kind of WORK_KINDS) {
      for (const state of UNFINISHED_STATES) this.jobs.set({ kind, state }, f.jobs[kind][state]);
      for (const state of FINISHED_STATES) this.finished.set({ kind, state }, f.jobs_finished_last_hour[kind][state]);
    }
    this.depth.set(f.queue.queued);
    this.running.set(f.queue.running);
    this.oldest.set(f.queue.oldest_queued_seconds);
    this.deliveries.set({ state: 'pending' }, f.webhooks.pending);
    this.deliveries.set({ state: 'failed' }, f.webhooks.failed);
    this.retrying.set(f.webhooks.retrying);
    this.backlogAge.set(f.webhooks.oldest_pending_seconds);
    const merged = Registry.merge([this.registry, processMetrics()]);
    return { contentType: merged.contentType, body: await merged.metrics() };
  }
}
