// The port of the Prometheus exposition (GET /metrics): request counters fed by the app's middleware
// (edge/metrics/requests.ts) and the text rendering. Node builds it with prom-client (edge/metrics/prometheus.ts);
// Workers has none (prom-client's in-process registry does not fit per-isolate Workers; docs/deploy.md), and there
// GET /metrics answers 404 pointing to GET /metrics.json.
import type { OpsFigures } from './ops-figures.ts';

/** One answered request: method, route template (e.g. `/v1/datasets/:id`), status, seconds to the response. */
export interface RequestSample {
  method: string;
  route: string;
  status: number;
  seconds: number;
}

export interface MetricsExporter {
  observeRequest(sample: RequestSample): void;
  /** The text exposition: the request metrics, the figures as gauges, and the process metrics. */
  render(figures: OpsFigures): Promise<{ contentType: string; body: string }>;
}
