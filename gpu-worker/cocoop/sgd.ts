// torch.optim.SGD (dampening 0, nesterov false), fp32, on TF.js variables:
//   d_p = g + weight_decay · p
//   buf = d_p                       on the first step (torch.clone(d_p))
//   buf = momentum · buf + d_p      afterwards
//   p  -= lr · buf                  (with momentum 0: p -= lr · d_p, no buffer)
// The official CoOp / CoCoOp recipe uses momentum 0.9 and weight decay 5e-4.
import * as tf from '@tensorflow/tfjs';

export interface SgdOptions {
  momentum: number;
  weightDecay: number;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export class Sgd {
  private readonly vars: tf.Variable[];
  private readonly momentum: number;
  private readonly weightDecay: number;
  /** Momentum buffers, one per variable; null before the first step (and with momentum 0). */
  private bufs: tf.Tensor[] | null = null;
  private disposed = false;

  constructor(vars: tf.Variable[], opts: SgdOptions) {
    if (!(opts.momentum >= 0)) throw new Error(`Sgd: momentum ${opts.momentum} must be ≥ 0`);
    if (!(opts.weightDecay >= 0)) throw new Error(`Sgd: weight decay ${opts.weightDecay} must be ≥ 0`);
    this.vars = [...vars];
    this.momentum = opts.momentum;
    this.weightDecay = opts.weightDecay;
  }

  /** One update with `grads[i]` the gradient of `vars[i]`. The grads stay owned by the caller. */
  step(grads: tf.Tensor[], lr: number): void {
    if (this.disposed) throw new Error('Sgd: used after dispose()');
    if (grads.length !== this.vars.length) throw new Error(`Sgd: ${grads.length} gradients for ${this.vars.length} variables`);
    if (!Number.isFinite(lr)) throw new Error(`Sgd: learning rate ${lr} is not finite`);
    grads.forEach((g, i) => {
      if (!sameShape(g.shape, this.vars[i].shape)) {
        throw new Error(`Sgd: gradient ${i} has shape [${g.shape}], variable has [${this.vars[i].shape}]`);
      }
    });
    const { momentum, weightDecay } = this;
    const decayed = (p: tf.Variable, g: tf.Tensor): tf.Tensor =>
      weightDecay !== 0 ? tf.add(g, tf.mul(p, weightDecay)) : tf.clone(g);
    if (momentum === 0) {
      tf.tidy(() => this.vars.forEach((p, i) => p.assign(tf.sub(p, tf.mul(decayed(p, grads[i]), lr)))));
      return;
    }
    const old = this.bufs;
    const next = tf.tidy(() =>
      this.vars.map((p, i) => {
        const dp = decayed(p, grads[i]);
        const buf = old ? tf.add(tf.mul(old[i], momentum), dp) : dp;
        p.assign(tf.sub(p, tf.mul(buf, lr)));
        return buf;
      }),
    );
    // Survive any tidy scope the caller runs us in.
    this.bufs = next.map((b) => tf.keep(b));
    if (old) tf.dispose(old);
  }

  /** Momentum buffers on the host (copies), in variable order; [] before the first step. */
  state(): Float32Array[] {
    if (!this.bufs) return [];
    return this.bufs.map((b) => (b.dataSync() as Float32Array).slice());
  }

  /** Restores buffers saved by state(); null or [] resets (the next step is a first step). */
  setState(bufs: Float32Array[] | null): void {
    if (this.disposed) throw new Error('Sgd: used after dispose()');
    if (bufs === null || bufs.length === 0) {
      if (this.bufs) tf.dispose(this.bufs);
      this.bufs = null;
      return;
    }
    if (this.momentum === 0) throw new Error('Sgd: momentum 0 keeps no buffers');
    if (bufs.length !== this.vars.length) throw new Error(`Sgd: ${bufs.length} buffers for ${this.vars.length} variables`);
    bufs.forEach((b, i) => {
      if (b.length !== this.vars[i].size) {
        throw new Error(`Sgd: buffer ${i} has ${b.length} values, variable has ${this.vars[i].size}`);
      }
    });
    const fresh = bufs.map((b, i) => tf.keep(tf.tensor(b, this.vars[i].shape, 'float32')));
    if (this.bufs) tf.dispose(this.bufs);
    this.bufs = fresh;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.bufs) tf.dispose(this.bufs);
    this.bufs = null;
  }
}
