// Learning rate per epoch of the official CoOp / CoCoOp recipe: Dassl's ConstantWarmupScheduler
// (WARMUP_TYPE "constant", WARMUP_RECOUNT true, the Dassl default) wrapping
// torch.optim.lr_scheduler.CosineAnnealingLR(T_max = MAX_EPOCH, eta_min = 0), stepped once at the end
// of every epoch without an epoch argument (`update_lr()` after the last batch).
//
// How the two counters interact (traced through Dassl's `_BaseWarmupScheduler.step` and PyTorch's
// `_LRScheduler`; W = warm-up epochs, T = T_max):
//   - Both schedulers step once at construction: the cosine successor sits at its epoch 0 with
//     lr = base; the wrapper at its epoch 0 sets lr = warmupLr.
//   - While the wrapper's counter is < W, its own step() runs: at the end of epoch W − 1 its counter
//     becomes W and get_lr() returns successor.get_last_lr() = the successor's epoch-0 value = base.
//     So epoch W trains at the full base rate.
//   - From then on each step() forwards to the successor, whose OWN counter (started at 0) advances
//     by one: epoch W + k trains at 0.5 · base · (1 + cos(π k / T)).
// With W = 1, T = 10, base = 0.002 (the CoCoOp recipe), epochs 0..9 (0-based) train at
//   1e-5, 0.002, 0.002·(1+cos(π/10))/2 ≈ 0.0019510565, …, 0.002·(1+cos(8π/10))/2 ≈ 0.0000954915,
// i.e. the successor is NOT evaluated at the wrapper's epoch number (that would give epoch 1 the
// value cos(π/10)). This matches the official logs: "lr 1.0000e-05" in epoch 1, "lr 2.0000e-03" in
// epoch 2 (1-based). PyTorch's recursive cosine form equals this closed form (eta_min = 0) for every
// epoch k ≤ T.

export interface LrScheduleOptions {
  baseLr: number;
  maxEpochs: number; // T_max of the cosine schedule
  warmupEpochs: number; // official: 1 (0 = no warm-up: plain cosine from epoch 0)
  warmupLr: number; // official: 1e-5
}

/** Learning rate of 0-based epoch `epoch0` (see the comment above for the exact semantics). */
export function learningRate(epoch0: number, opts: LrScheduleOptions): number {
  const { baseLr, maxEpochs, warmupEpochs, warmupLr } = opts;
  if (!Number.isInteger(epoch0) || epoch0 < 0) throw new Error(`learningRate: epoch ${epoch0} must be an integer ≥ 0`);
  if (!(maxEpochs > 0)) throw new Error(`learningRate: maxEpochs ${maxEpochs} must be > 0`);
  if (!Number.isInteger(warmupEpochs) || warmupEpochs < 0) {
    throw new Error(`learningRate: warmupEpochs ${warmupEpochs} must be an integer ≥ 0`);
  }
  if (epoch0 < warmupEpochs) return warmupLr;
  const k = epoch0 - warmupEpochs; // the cosine successor's own epoch counter
  return 0.5 * baseLr * (1 + Math.cos((Math.PI * k) / maxEpochs));
}
