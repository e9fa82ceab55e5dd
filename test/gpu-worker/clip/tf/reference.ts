// Test helpers: a seeded random generator, random CLIP weights, and a plain straight-loop CLIP
// forward in Float64 (the reference the TF.js towers are checked against).
import type { HiddenAct, TextConfig, VisionConfig } from '../../../../gpu-worker/clip/config.ts';
import type { HostTensor } from '../../../../gpu-worker/clip/safetensors.ts';
import type { EncoderLayer, LayerNorm, Linear, TextWeights, VisionWeights } from '../../../../gpu-worker/clip/weights.ts';

/** mulberry32 uniform [0, 1) + Box–Muller normals. */
export class Rng {
  private s: number;
  private spare: number | null = null;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  uniform(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
  tensor(shape: number[], std: number, mean = 0): HostTensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = mean + std * this.normal();
    return { shape, data };
  }
}

function randLinear(rng: Rng, out: number, inF: number): Linear {
  return { weight: rng.tensor([out, inF], 1 / Math.sqrt(inF)), bias: rng.tensor([out], 0.1) };
}

function randLn(rng: Rng, d: number): LayerNorm {
  return { weight: rng.tensor([d], 0.1, 1), bias: rng.tensor([d], 0.1) };
}

function randLayer(rng: Rng, d: number, inter: number): EncoderLayer {
  return {
    layerNorm1: randLn(rng, d),
    q: randLinear(rng, d, d),
    k: randLinear(rng, d, d),
    v: randLinear(rng, d, d),
    out: randLinear(rng, d, d),
    layerNorm2: randLn(rng, d),
    fc1: randLinear(rng, inter, d),
    fc2: randLinear(rng, d, inter),
  };
}

export function randomTextWeights(rng: Rng, cfg: TextConfig, projectionDim: number): TextWeights {
  const d = cfg.hiddenSize;
  return {
    tokenEmbedding: rng.tensor([cfg.vocabSize, d], 0.5),
    positionEmbedding: rng.tensor([cfg.maxPositionEmbeddings, d], 0.3),
    layers: Array.from({ length: cfg.numHiddenLayers }, () => randLayer(rng, d, cfg.intermediateSize)),
    finalLayerNorm: randLn(rng, d),
    projection: rng.tensor([projectionDim, d], 1 / Math.sqrt(d)),
  };
}

export function randomVisionWeights(rng: Rng, cfg: VisionConfig, projectionDim: number): VisionWeights {
  const w = cfg.hiddenSize;
  const g = cfg.imageSize / cfg.patchSize;
  const k = cfg.numChannels * cfg.patchSize * cfg.patchSize;
  return {
    classEmbedding: rng.tensor([w], 0.5),
    patchEmbedding: rng.tensor([w, cfg.numChannels, cfg.patchSize, cfg.patchSize], 1 / Math.sqrt(k)),
    positionEmbedding: rng.tensor([1 + g * g, w], 0.3),
    preLayerNorm: randLn(rng, w),
    layers: Array.from({ length: cfg.numHiddenLayers }, () => randLayer(rng, w, cfg.intermediateSize)),
    postLayerNorm: randLn(rng, w),
    projection: rng.tensor([projectionDim, w], 1 / Math.sqrt(w)),
  };
}

// ---- Float64 reference ----

/** x [M, in] → [M, out] with W [out, in] (PyTorch layout). */
function linear(x: Float64Array, m: number, w: HostTensor, b: HostTensor | null): Float64Array {
  const [out, inF] = w.shape;
  const y = new Float64Array(m * out);
  for (let r = 0; r < m; r++) {
    for (let o = 0; o < out; o++) {
      let s = b ? b.data[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w.data[o * inF + i];
      y[r * out + o] = s;
    }
  }
  return y;
}

function layerNorm(x: Float64Array, m: number, ln: LayerNorm, eps: number): Float64Array {
  const d = ln.weight.shape[0];
  const y = new Float64Array(m * d);
  for (let r = 0; r < m; r++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[r * d + i];
    mean /= d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[r * d + i] - mean) ** 2;
    v /= d;
    const rstd = 1 / Math.sqrt(v + eps);
    for (let i = 0; i < d; i++) y[r * d + i] = (x[r * d + i] - mean) * rstd * ln.weight.data[i] + ln.bias.data[i];
  }
  return y;
}

/** erf: Maclaurin series for |x| < 2 (≈ 1e-15), Abramowitz–Stegun 7.1.26 beyond (≈ 1.5e-7). */
export function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  let y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  if (a < 2) {
    // Maclaurin series: erf(x) = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
    let term = a;
    let sum = a;
    for (let n = 1; n < 60; n++) {
      term *= (-a * a) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    y = (2 / Math.sqrt(Math.PI)) * sum;
  }
  return sign * y;
}

function act(x: number, a: HiddenAct): number {
  return a === 'quick_gelu' ? x / (1 + Math.exp(-1.702 * x)) : 0.5 * x * (1 + erf(x / Math.SQRT2));
}

interface LayerCfg {
  numAttentionHeads: number;
  hiddenAct: HiddenAct;
  layerNormEps: number;
}

function encoderLayer(x: Float64Array, n: number, l: number, w: EncoderLayer, cfg: LayerCfg, causal: boolean): Float64Array {
  const d = w.q.weight.shape[1];
  const h = cfg.numAttentionHeads;
  const hd = d / h;
  const m = n * l;
  const a = layerNorm(x, m, w.layerNorm1, cfg.layerNormEps);
  const q = linear(a, m, w.q.weight, w.q.bias);
  const k = linear(a, m, w.k.weight, w.k.bias);
  const v = linear(a, m, w.v.weight, w.v.bias);
  const ctx = new Float64Array(m * d);
  const scale = 1 / Math.sqrt(hd);
  const scores = new Float64Array(l);
  for (let b = 0; b < n; b++) {
    for (let hh = 0; hh < h; hh++) {
      for (let i = 0; i < l; i++) {
        const jMax = causal ? i : l - 1;
        let mx = -Infinity;
        for (let j = 0; j <= jMax; j++) {
          let s = 0;
          for (let c = 0; c < hd; c++) s += q[(b * l + i) * d + hh * hd + c] * k[(b * l + j) * d + hh * hd + c];
          scores[j] = s * scale;
          mx = Math.max(mx, scores[j]);
        }
        let z = 0;
        for (let j = 0; j <= jMax; j++) {
          scores[j] = Math.exp(scores[j] - mx);
          z += scores[j];
        }
        for (let c = 0; c < hd; c++) {
          let s = 0;
          for (let j = 0; j <= jMax; j++) s += scores[j] * v[(b * l + j) * d + hh * hd + c];
          ctx[(b * l + i) * d + hh * hd + c] = s / z;
        }
      }
    }
  }
  const attnOut = linear(ctx, m, w.out.weight, w.out.bias);
  const x1 = new Float64Array(m * d);
  for (let i = 0; i < m * d; i++) x1[i] = x[i] + attnOut[i];
  const f = linear(layerNorm(x1, m, w.layerNorm2, cfg.layerNormEps), m, w.fc1.weight, w.fc1.bias);
  for (let i = 0; i < f.length; i++) f[i] = act(f[i], cfg.hiddenAct);
  const mlpOut = linear(f, m, w.fc2.weight, w.fc2.bias);
  for (let i = 0; i < m * d; i++) x1[i] += mlpOut[i];
  return x1;
}

/** embeds [N, L, D] (flat), eot [N] → [N, P] (flat). */
export function refText(w: TextWeights, cfg: TextConfig, embeds: ArrayLike<number>, n: number, l: number, eot: number[]): Float64Array {
  const d = cfg.hiddenSize;
  let x: Float64Array = new Float64Array(n * l * d);
  for (let b = 0; b < n; b++) {
    for (let t = 0; t < l; t++) {
      for (let c = 0; c < d; c++) x[(b * l + t) * d + c] = embeds[(b * l + t) * d + c] + w.positionEmbedding.data[t * d + c];
    }
  }
  for (const layer of w.layers) x = encoderLayer(x, n, l, layer, cfg, true);
  x = layerNorm(x, n * l, w.finalLayerNorm, cfg.layerNormEps);
  const pooled = new Float64Array(n * d);
  for (let b = 0; b < n; b++) pooled.set(x.subarray((b * l + eot[b]) * d, (b * l + eot[b] + 1) * d), b * d);
  return linear(pooled, n, w.projection, null);
}

/** pixels [N, C, S, S] (flat) → [N, P] (flat). */
export function refVision(w: VisionWeights, cfg: VisionConfig, pixels: ArrayLike<number>, n: number): Float64Array {
  const { hiddenSize: wd, numChannels: c, patchSize: p, imageSize: s } = cfg;
  const g = s / p;
  const t = 1 + g * g;
  let x: Float64Array = new Float64Array(n * t * wd);
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < wd; o++) x[(b * t) * wd + o] = w.classEmbedding.data[o] + w.positionEmbedding.data[o];
    for (let gy = 0; gy < g; gy++) {
      for (let gx = 0; gx < g; gx++) {
        const tok = 1 + gy * g + gx;
        for (let o = 0; o < wd; o++) {
          // Conv2d, kernel = stride = p, no bias.
          let sum = 0;
          for (let ch = 0; ch < c; ch++) {
            for (let i = 0; i < p; i++) {
              for (let j = 0; j < p; j++) {
                const px = pixels[((b * c + ch) * s + gy * p + i) * s + gx * p + j];
                sum += px * w.patchEmbedding.data[((o * c + ch) * p + i) * p + j];
              }
            }
          }
          x[(b * t + tok) * wd + o] = sum + w.positionEmbedding.data[tok * wd + o];
        }
      }
    }
  }
  x = layerNorm(x, n * t, w.preLayerNorm, cfg.layerNormEps);
  for (const layer of w.layers) x = encoderLayer(x, n, t, layer, cfg, false);
  const cls = new Float64Array(n * wd);
  for (let b = 0; b < n; b++) cls.set(x.subarray(b * t * wd, (b * t + 1) * wd), b * wd);
  return linear(layerNorm(cls, n, w.postLayerNorm, cfg.layerNormEps), n, w.projection, null);
}

/** max |a − b| / max |b| */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / (den || 1);
}
