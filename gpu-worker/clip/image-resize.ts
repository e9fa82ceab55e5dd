// Image resampling for CLIP preprocessing: separable convolution with PIL's coefficient scheme
// (antialiased bicubic / bilinear, fixed-point, uint8 intermediates), so resized pixels match what
// Hugging Face's CLIPImageProcessor (PIL) produces.

export interface RGBImage {
  width: number;
  height: number;
  /** HWC, 3 channels, 8 bits each. */
  data: Uint8Array;
}

const PRECISION_BITS = 22; // fixed-point fraction bits used for 8-bit resampling
const FIXED_ONE = 2 ** PRECISION_BITS;

export interface Filter {
  support: number;
  fn: (x: number) => number;
}

export const BICUBIC: Filter = {
  support: 2,
  fn: (x) => {
    const a = -0.5;
    if (x < 0) x = -x;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
  },
};

export const BILINEAR: Filter = {
  support: 1,
  fn: (x) => {
    if (x < 0) x = -x;
    return x < 1 ? 1 - x : 0;
  },
};

interface Coeffs {
  /** First input index for each computed output index. */
  start: Int32Array;
  /** Number of taps for each output index. */
  count: Int32Array;
  /** Fixed-point weights, `ksize` per output index. */
  weights: Float64Array;
  ksize: number;
}

/**
 * Weights for output indices [o0, o1) of a resize from `inSize` to `outSize`.
 * When downsampling the kernel is stretched by the scale factor (antialiasing).
 */
function computeCoeffs(inSize: number, outSize: number, o0: number, o1: number, filter: Filter): Coeffs {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const n = o1 - o0;
  const start = new Int32Array(n);
  const count = new Int32Array(n);
  const weights = new Float64Array(n * ksize);
  const tmp = new Float64Array(ksize);
  const inv = 1 / filterScale;
  for (let i = 0; i < n; i++) {
    const center = (o0 + i + 0.5) * scale;
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const hi = Math.min(inSize, Math.trunc(center + support + 0.5));
    const taps = Math.max(0, hi - lo);
    let sum = 0;
    for (let k = 0; k < taps; k++) {
      const w = filter.fn((k + lo - center + 0.5) * inv);
      tmp[k] = w;
      sum += w;
    }
    for (let k = 0; k < taps; k++) {
      const w = sum !== 0 ? tmp[k] / sum : tmp[k];
      weights[i * ksize + k] = w < 0 ? Math.trunc(w * FIXED_ONE - 0.5) : Math.trunc(w * FIXED_ONE + 0.5);
    }
    start[i] = lo;
    count[i] = taps;
  }
  return { start, count, weights, ksize };
}

function clip8(acc: number): number {
  const v = Math.floor(acc / FIXED_ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Region [x0,x1)×[y0,y1) of `img` resized to outW×outH, as 8-bit HWC RGB.
 * Horizontal pass first, then vertical, each rounding to 8 bits.
 */
export function resizeRegion(img: RGBImage, outW: number, outH: number, x0: number, x1: number, y0: number, y1: number, filter: Filter): RGBImage {
  const { width: inW, height: inH, data: src } = img;
  const regW = x1 - x0;
  const regH = y1 - y0;

  // Vertical coefficients decide which source rows the horizontal pass must produce.
  const needV = outH !== inH;
  const vc = needV ? computeCoeffs(inH, outH, y0, y1, filter) : null;
  let rowLo = y0;
  let rowHi = y1;
  if (vc) {
    rowLo = inH;
    rowHi = 0;
    for (let i = 0; i < regH; i++) {
      if (vc.count[i] === 0) continue;
      rowLo = Math.min(rowLo, vc.start[i]);
      rowHi = Math.max(rowHi, vc.start[i] + vc.count[i]);
    }
    if (rowHi < rowLo) rowHi = rowLo;
  }
  const rows = rowHi - rowLo;

  // Horizontal pass: rows [rowLo,rowHi) × output columns [x0,x1).
  let mid: Uint8Array;
  if (outW !== inW) {
    const hc = computeCoeffs(inW, outW, x0, x1, filter);
    mid = new Uint8Array(rows * regW * 3);
    const half = FIXED_ONE / 2;
    for (let r = 0; r < rows; r++) {
      const rowBase = (rowLo + r) * inW * 3;
      const outBase = r * regW * 3;
      for (let i = 0; i < regW; i++) {
        let a0 = half;
        let a1 = half;
        let a2 = half;
        const kb = i * hc.ksize;
        let p = rowBase + hc.start[i] * 3;
        for (let k = 0, n = hc.count[i]; k < n; k++, p += 3) {
          const w = hc.weights[kb + k];
          a0 += src[p] * w;
          a1 += src[p + 1] * w;
          a2 += src[p + 2] * w;
        }
        const o = outBase + i * 3;
        mid[o] = clip8(a0);
        mid[o + 1] = clip8(a1);
        mid[o + 2] = clip8(a2);
      }
    }
  } else {
    mid = new Uint8Array(rows * regW * 3);
    for (let r = 0; r < rows; r++) {
      const s = ((rowLo + r) * inW + x0) * 3;
      mid.set(src.subarray(s, s + regW * 3), r * regW * 3);
    }
  }

  if (!vc) return { width: regW, height: regH, data: mid.subarray(0, regH * regW * 3) };

  // Vertical pass over the intermediate rows.
  const out = new Uint8Array(regH * regW * 3);
  const half = FIXED_ONE / 2;
  const stride = regW * 3;
  for (let i = 0; i < regH; i++) {
    const kb = i * vc.ksize;
    const first = vc.start[i] - rowLo;
    const n = vc.count[i];
    const outBase = i * stride;
    for (let c = 0; c < stride; c++) {
      let acc = half;
      let p = first * stride + c;
      for (let k = 0; k < n; k++, p += stride) acc += mid[p] * vc.weights[kb + k];
      out[outBase + c] = clip8(acc);
    }
  }
  return { width: regW, height: regH, data: out };
}

