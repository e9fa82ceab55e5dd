// Smoke runs of `npm run bench:load` and `npm run bench:classify` (--quick) against real local stacks: every
// scenario answers without errors, the numbers are consistent (p50 ≤ p99; Server-Timing inference ≤ edge total ≤
// client latency), the soak samples the memory of the edge, s3 and worker processes (and the heap after GC of the
// first two), and the markdown reports what the JSON holds.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClassifyBenchResult } from '../../scripts/bench-classify.ts';
import { type LoadBenchResult, soakPassed } from '../../scripts/bench-load.ts';
import { REPO_ROOT } from '../helpers/cli.ts';
import { useTmpDir } from '../helpers/tmp.ts';

function run(script: string, json: string): { stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/run-ts.mjs', script, '--quick', '--json', json], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
  expect(r.status, r.stderr.slice(-3000)).toBe(0);
  return { stdout: r.stdout, stderr: r.stderr };
}

describe('load benchmarks (smoke)', () => {
  const out = useTmpDir('bench-load-');

  it('bench:load: control plane and classify at two concurrency levels, then a soak within its memory bound', () => {
    const json = join(out, 'load.json');
    const { stdout } = run('scripts/bench-load.ts', json);
    const r = JSON.parse(readFileSync(json, 'utf8')) as LoadBenchResult;
    expect(new Set(r.rows.map((x) => x.scenario)).size).toBe(5);
    expect(r.rows.map((x) => x.connections)).toEqual(Array.from({ length: 5 }, () => [1, 4]).flat());
    for (const x of r.rows) {
      expect(x.requests, x.scenario).toBeGreaterThan(0);
      expect(x.errors, x.scenario).toBe(0);
      expect(x.p50_ms).toBeLessThanOrEqual(x.p99_ms);
      expect(stdout).toContain(`| ${x.scenario} | ${x.connections} | ${x.per_s.toFixed(0)} | ${x.p50_ms} | ${x.p99_ms} | 0 |`);
    }
    const soak = r.soak!;
    expect(soak.errors).toBe(0);
    expect(soak.requests).toBeGreaterThan(0);
    for (const [, edge, s3, worker] of soak.samples) {
      expect(edge).toBeGreaterThan(10); // MB: a live Node process, for each of the three
      expect(s3).toBeGreaterThan(10);
      expect(worker).toBeGreaterThan(10);
    }
    // Heap after a forced GC, from the edge and the s3 process over IPC: at the start and at the end of the soak.
    expect(soak.heap.length).toBeGreaterThanOrEqual(2);
    for (const h of soak.heap) {
      expect(h.edge_heap_mb).toBeGreaterThan(1);
      expect(h.edge_heap_mb!).toBeLessThan(h.edge_rss_mb!);
      expect(h.edge_heap_mb!).toBeLessThanOrEqual(h.edge_heap_total_mb!);
      expect(h.s3_heap_mb).toBeGreaterThan(1);
      expect(h.s3_heap_mb!).toBeLessThan(h.s3_rss_mb!);
    }
    // The edge's heap (SQLite, Hono, the AWS SDK) is not the s3 process's: separate processes.
    expect(soak.heap[0]!.edge_rss_mb).not.toBe(soak.heap[0]!.s3_rss_mb);
    // A 4 s soak has no full minute: no per-minute rows, no fits.
    expect(soak.minutes).toEqual([]);
    for (const f of Object.values(soak.fits)) expect(f.all).toBeNull();
    // Growth as documented: median RSS of the last minute minus the median of the minute after warm-up, with
    // w = min(warmup_s, seconds / 2). A 4 s soak (warm-up 60 s) has w = 2 s, so both windows are the samples from 2 s
    // on — the same samples — and each process's growth is exactly 0 (a peak or a last-minus-first would not be).
    expect(soak.seconds).toBe(4);
    expect(soak.samples.some((x) => x[0] >= Math.min(soak.warmup_s, soak.seconds / 2))).toBe(true);
    expect(soak.growth_mb).toEqual({ edge: 0, s3: 0, worker: 0 });
    expect(soak.bound_mb).toBe(64);
    expect(soak.passed).toBe(true);
    expect(stdout).toContain('**within the bound**');
  }, 300_000);

  it('the soak verdict: fails on any error or on one process over the bound; the bound itself passes', () => {
    const ok = { edge: 10, s3: 64, worker: -3 };
    expect(soakPassed(0, ok, 64)).toBe(true);
    expect(soakPassed(1, ok, 64)).toBe(false);
    expect(soakPassed(0, { ...ok, worker: 64.5 }, 64)).toBe(false);
    expect(soakPassed(0, { ...ok, edge: 65 }, 64)).toBe(false);
  });

  it('bench:classify: both servers, both models, Server-Timing splits each request', () => {
    const json = join(out, 'classify.json');
    const { stdout } = run('scripts/bench-classify.ts', json);
    const r = JSON.parse(readFileSync(json, 'utf8')) as ClassifyBenchResult;
    const keys = r.rows.map((x) => `${x.server}/${x.model}/${x.images_per_request}x${x.concurrency}`);
    for (const server of ['batching', 'naive']) {
      for (const model of ['zero-shot', 'cocoop']) for (const k of ['1x1', '1x2', '32x1']) expect(keys).toContain(`${server}/${model}/${k}`);
    }
    for (const x of r.rows) {
      expect(x.errors, keys.join()).toBe(0);
      expect(x.requests).toBeGreaterThan(0);
      expect(x.median_inference_ms).toBeGreaterThan(0);
      expect(x.median_inference_ms).toBeLessThanOrEqual(x.median_edge_total_ms);
      expect(x.median_edge_total_ms).toBeLessThanOrEqual(x.median_client_ms);
      expect(x.edge_own_share).toBeGreaterThanOrEqual(0);
      expect(x.edge_own_share).toBeLessThan(1);
    }
    const first = r.rows.find((x) => x.server === 'batching')!;
    expect(stdout).toContain(`| ${first.model} | ${first.images_per_request} | ${first.concurrency} | **${first.images_per_s.toFixed(1)}** |`);
  }, 300_000);
});
