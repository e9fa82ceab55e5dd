// The additive causal mask of CLIP's text tower, shared by the ONNX graphs and the TF.js towers.
//
//   causalMask(n, masked) → Float32Array [n, n] row-major (query i, key j): 0 where j ≤ i, `masked` above
//   the diagonal. Added to the attention scores before softmax, it hides every later position.

/** The most negative float32: HF uses torch.finfo(dtype).min for masked scores (ONNX graphs). */
export const MASKED_FLOAT32_MIN = -3.4028234663852886e38;
/** A large negative score whose exp() underflows to 0 in fp32 without inf arithmetic (TF.js towers). */
export const MASKED_LARGE = -1e9;

export function causalMask(n: number, masked: number): Float32Array {
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) m[i * n + j] = masked;
  return m;
}
