// Adapter parameters as the Float64 reference (test/reference/cocoop-plain.ts) takes them.
import type { AdapterParams } from '../../gpu-worker/cocoop/adapter.ts';
import type { PlainLearner } from '../reference/cocoop-plain.ts';

/** The reference's view of adapter parameters (Float64 copies; float32 values widen exactly). */
export function plainLearner(p: AdapterParams): PlainLearner {
  const f = (x: Float32Array) => Float64Array.from(x);
  const mn = p.metaNet;
  return {
    nCtx: p.ctx.shape[0],
    ctx: f(p.ctx.data),
    metaNet: mn && { w1: f(mn.linear1.weight.data), b1: f(mn.linear1.bias.data), w2: f(mn.linear2.weight.data), b2: f(mn.linear2.bias.data) },
  };
}
