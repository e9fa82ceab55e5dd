// The learned part of a CoCoOp / CoOp model, on the host, fp32, in the official prompt-learner
// layout (PyTorch [out, in] linear weights) — the contents of an adapter artifact.
import type { HostTensor } from '../clip/safetensors.ts';
import { SeededRandom } from '../clip/random.ts';
import type { Linear } from '../clip/weights.ts';

export type AdapterMethod = 'cocoop' | 'coop';
/** Every way the engine can classify: the two learned methods and zero-shot CLIP. */
export type Method = AdapterMethod | 'zeroshot';

export interface MetaNet {
  linear1: Linear; // weight [vis/16, vis], bias [vis/16]
  linear2: Linear; // weight [D, vis/16], bias [D]
}

export interface AdapterParams {
  method: AdapterMethod;
  ctx: HostTensor; // [M, D] learned context vectors
  metaNet?: MetaNet; // CoCoOp only
  /** The phrase ctx was initialised from ("a photo of a"), or "" for random init. */
  ctxInit: string;
}

export const DEFAULT_CTX_INIT = 'a photo of a';

/** PyTorch nn.Linear default init: U(-1/√in, 1/√in) for weight and bias (kaiming_uniform a=√5). */
export function initLinear(rng: SeededRandom, out: number, inp: number): Linear {
  const bound = 1 / Math.sqrt(inp);
  const u = (n: number) => Float32Array.from({ length: n }, () => (rng.uniform() * 2 - 1) * bound);
  return { weight: { shape: [out, inp], data: u(out * inp) }, bias: { shape: [out], data: u(out) } };
}

/** Meta-net π: Linear(vis → vis/16) → ReLU → Linear(vis/16 → D), PyTorch default init. */
export function initMetaNet(rng: SeededRandom, visDim: number, textWidth: number): MetaNet {
  const hidden = Math.floor(visDim / 16);
  if (hidden < 1) throw new Error(`meta-net: projection dim ${visDim} is too small (needs ≥ 16)`);
  return { linear1: initLinear(rng, hidden, visDim), linear2: initLinear(rng, textWidth, hidden) };
}

export function cloneAdapter(p: AdapterParams): AdapterParams {
  const t = (x: HostTensor): HostTensor => ({ shape: [...x.shape], data: x.data.slice() });
  const l = (x: Linear): Linear => ({ weight: t(x.weight), bias: t(x.bias) });
  return {
    method: p.method,
    ctx: t(p.ctx),
    metaNet: p.metaNet && { linear1: l(p.metaNet.linear1), linear2: l(p.metaNet.linear2) },
    ctxInit: p.ctxInit,
  };
}
