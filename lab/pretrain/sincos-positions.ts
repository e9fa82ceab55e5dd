// 2-D sine-cosine position embeddings (as in MAE / MoCo v3) used to INITIALISE the vision tower's
// learned position embeddings: a ViT trained from scratch on little compute otherwise spends many
// steps discovering the patch grid. Row 0 (the class token) is zero. The weights stay ordinary
// learned CLIP position embeddings: only their starting point changes.

/** [1 + g², width] row-major: for patch (y, x), half the channels encode y and half x, each as sin/cos pairs. */
export function sincosPositionEmbedding(grid: number, width: number): Float32Array {
  if (width % 4 !== 0) throw new Error(`sincos position embedding: width ${width} must be divisible by 4`);
  const out = new Float32Array((1 + grid * grid) * width);
  const quarter = width / 4;
  for (let y = 0; y < grid; y++) {
    for (let x = 0; x < grid; x++) {
      const row = (1 + y * grid + x) * width;
      for (let i = 0; i < quarter; i++) {
        const omega = 1 / 10000 ** (i / quarter);
        out[row + i] = Math.sin(y * omega);
        out[row + quarter + i] = Math.cos(y * omega);
        out[row + 2 * quarter + i] = Math.sin(x * omega);
        out[row + 3 * quarter + i] = Math.cos(x * omega);
      }
    }
  }
  return out;
}
