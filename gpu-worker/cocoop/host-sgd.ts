// torch.optim.SGD (dampening 0, nesterov false) on host Float32Arrays, updated in place — the same
// rule as sgd.ts (TF.js variables), for the ONNX Runtime engine:
//   d_p = g + weight_decay · p
//   buf = d_p                       on the first step
//   buf = momentum · buf + d_p      afterwards
//   p  -= lr · buf                  (with momentum 0: p -= lr · d_p, no buffer)
import type { SgdOptions } from './sgd.ts';

export class HostSgd {
  private readonly params: Float32Array[];
  private bufs: Float32Array[] | null = null;

  constructor(
    params: Float32Array[],
    private readonly opts: SgdOptions,
  ) {
    if (!(opts.momentum >= 0)) throw new Error(`HostSgd: momentum ${opts.momentum} must be ≥ 0`);
    if (!(opts.weightDecay >= 0)) throw new Error(`HostSgd: weight decay ${opts.weightDecay} must be ≥ 0`);
    this.params = [...params];
  }

  /** One update of every parameter with `grads[i]` its gradient. */
  step(grads: Float32Array[], lr: number): void {
    if (grads.length !== this.params.length) throw new Error(`HostSgd: ${grads.length} gradients for ${this.params.length} parameters`);
    if (!Number.isFinite(lr)) throw new Error(`HostSgd: learning rate ${lr} is not finite`);
    grads.forEach((g, i) => {
      if (g.length !== this.params[i].length) throw new Error(`HostSgd: gradient ${i} has ${g.length} values, parameter has ${this.params[i].length}`);
    });
    const { momentum, weightDecay } = this.opts;
    const first = this.bufs === null;
    if (momentum !== 0 && first) this.bufs = this.params.map((p) => new Float32Array(p.length));
    this.params.forEach((p, i) => {
      const g = grads[i];
      const buf = this.bufs?.[i];
      for (let j = 0; j < p.length; j++) {
        const dp = Math.fround(g[j] + Math.fround(weightDecay * p[j]));
        let step = dp;
        if (buf) step = buf[j] = first ? dp : Math.fround(Math.fround(momentum * buf[j]) + dp);
        p[j] = Math.fround(p[j] - Math.fround(lr * step));
      }
    });
  }

  /** Momentum buffers (copies), in parameter order; [] before the first step. */
  state(): Float32Array[] {
    return this.bufs ? this.bufs.map((b) => b.slice()) : [];
  }

  /** Restores buffers saved by state(); null or [] resets (the next step is a first step). */
  setState(bufs: Float32Array[] | null): void {
    if (bufs === null || bufs.length === 0) {
      this.bufs = null;
      return;
    }
    if (this.opts.momentum === 0) throw new Error('HostSgd: momentum 0 keeps no buffers');
    if (bufs.length !== this.params.length) throw new Error(`HostSgd: ${bufs.length} buffers for ${this.params.length} parameters`);
    bufs.forEach((b, i) => {
      if (b.length !== this.params[i].length) throw new Error(`HostSgd: buffer ${i} has ${b.length} values, parameter has ${this.params[i].length}`);
    });
    this.bufs = bufs.map((b) => b.slice());
  }
}
