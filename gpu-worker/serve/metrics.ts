// Minimal Prometheus text-format metrics for the inference service: counters and histograms.
function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export class Counter {
  private readonly values = new Map<string, { labels: Record<string, string>; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Record<string, string> = {}, by = 1): void {
    const k = labelText(labels);
    const e = this.values.get(k) ?? { labels, value: 0 };
    e.value += by;
    this.values.set(k, e);
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const e of this.values.values()) lines.push(`${this.name}${labelText(e.labels)} ${e.value}`);
    return lines.join('\n');
  }
}

export class Histogram {
  private readonly series = new Map<string, { labels: Record<string, string>; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {}

  observe(value: number, labels: Record<string, string> = {}): void {
    const k = labelText(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    this.buckets.forEach((b, i) => {
      if (value <= b) s.counts[i]++;
    });
    s.sum += value;
    s.count++;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: String(b) })} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${s.sum}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines.join('\n');
  }
}

export class InferenceMetrics {
  readonly requests = new Counter('inference_requests_total', 'HTTP requests by route and status.');
  readonly latency = new Histogram('inference_request_duration_seconds', 'HTTP request latency by route.', [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
  ]);
  readonly imageBatch = new Histogram('inference_image_batch_size', 'Images per image-encoder call (after micro-batching).', [
    1, 2, 4, 8, 16, 32, 64, 128,
  ]);

  render(adapterCache: { hits: number; misses: number; size: number }): string {
    return [
      this.requests.render(),
      this.latency.render(),
      this.imageBatch.render(),
      '# HELP inference_adapter_cache_hits_total Adapter cache hits.',
      '# TYPE inference_adapter_cache_hits_total counter',
      `inference_adapter_cache_hits_total ${adapterCache.hits}`,
      '# HELP inference_adapter_cache_misses_total Adapter cache misses (downloads).',
      '# TYPE inference_adapter_cache_misses_total counter',
      `inference_adapter_cache_misses_total ${adapterCache.misses}`,
      '# HELP inference_adapter_cache_entries Adapters held in the cache.',
      '# TYPE inference_adapter_cache_entries gauge',
      `inference_adapter_cache_entries ${adapterCache.size}`,
      '',
    ].join('\n');
  }
}
