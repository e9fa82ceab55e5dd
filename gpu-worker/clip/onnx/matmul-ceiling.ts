// The machine's ceiling for ONNX Runtime work: the best plain MatMul rate over given shapes, measured in
// the same process as the benchmark it scales (a benchmark reports its throughput as a fraction of it).
//
//   [m, k] × [k, n] float32, the [k, n] operand a constant initializer (as every weight in the CLIP graphs)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { createOrtSession, type OrtSessionOptions } from '../../runtime/ort.ts';
import { SeededRandom } from '../random.ts';
import { GraphBuilder } from './graph-builder.ts';

export interface MatmulCeiling {
  gflops: number;
  shape: [number, number, number]; // the [m, k, n] that reached it
}

/** Best single-call time (seconds) over repeated calls for `seconds` of wall time, after one warm-up. */
export async function bestWithin(fn: () => Promise<unknown>, seconds: number): Promise<number> {
  await fn();
  let best = Infinity;
  const start = performance.now();
  do {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
  } while (performance.now() - start < seconds * 1000);
  return best;
}

/** The best MatMul rate (2 FLOPs per multiply-add) over `shapes`, each timed for `seconds`. */
export async function ortMatmulCeiling(shapes: [number, number, number][], seconds: number, session: OrtSessionOptions = {}): Promise<MatmulCeiling> {
  const dir = mkdtempSync(join(tmpdir(), 'matmul-ceiling-'));
  const rng = new SeededRandom(7);
  let best: MatmulCeiling = { gflops: 0, shape: shapes[0] };
  try {
    for (const [m, k, n] of shapes) {
      const g = new GraphBuilder('matmul');
      const a = g.input('a', 'float', [m, k]);
      g.output(g.op('MatMul', [a, g.floatInit('b', rng.fillNormal(new Float32Array(k * n), 1), [k, n])]), 'c', 'float', [m, n]);
      const path = join(dir, `matmul-${m}x${k}x${n}.onnx`);
      writeFileSync(path, g.toBytes());
      const s = await createOrtSession(path, session);
      try {
        const feed = { a: new ort.Tensor('float32', rng.fillNormal(new Float32Array(m * k), 1), [m, k]) };
        const gflops = (2 * m * k * n) / (await bestWithin(() => s.run(feed), seconds)) / 1e9;
        if (gflops > best.gflops) best = { gflops, shape: [m, k, n] };
      } finally {
        await s.release();
      }
    }
    return best;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
