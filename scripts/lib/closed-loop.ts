// A closed-loop load generator: `concurrency` virtual clients each send their next request as soon as the
// previous one answered, for `durationMs`. Every request yields one sample; summaries give throughput and
// latency percentiles (nearest-rank).

export interface Sample {
  ok: boolean;
  /** Client-observed latency. */
  ms: number;
  /** Server-Timing metrics of the answer (name → dur in ms), when present. */
  timing?: Record<string, number>;
}

export async function runClosedLoop(concurrency: number, durationMs: number, request: (n: number) => Promise<Sample>): Promise<{ samples: Sample[]; wallMs: number }> {
  const samples: Sample[] = [];
  const t0 = performance.now();
  const end = t0 + durationMs;
  let n = 0;
  const client = async () => {
    while (performance.now() < end) {
      const i = n++;
      try {
        samples.push(await request(i));
      } catch {
        samples.push({ ok: false, ms: 0 });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  return { samples, wallMs: performance.now() - t0 };
}

/** Nearest-rank percentile of `xs` (p in 0..100); NaN for an empty list. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** `Server-Timing: a;dur=1.2, b;desc="x";dur=3` → { a: 1.2, b: 3 }. */
export function parseServerTiming(header: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const metric of (header ?? '').split(',')) {
    const [name, ...params] = metric.trim().split(';');
    const dur = params.map((x) => x.trim()).find((x) => x.startsWith('dur='));
    if (name && dur) out[name.trim()] = Number(dur.slice(4));
  }
  return out;
}

export interface LoadSummary {
  requests: number;
  errors: number;
  perSecond: number;
  p50: number;
  p99: number;
}

export function summarize(run: { samples: Sample[]; wallMs: number }): LoadSummary {
  const ok = run.samples.filter((s) => s.ok);
  return {
    requests: run.samples.length,
    errors: run.samples.length - ok.length,
    perSecond: ok.length / (run.wallMs / 1000),
    p50: percentile(ok.map((s) => s.ms), 50),
    p99: percentile(ok.map((s) => s.ms), 99),
  };
}
