// Small host-side (plain Float32Array) helpers shared by the TF.js towers and the ONNX graph builder.

/** Row-major [rows, cols] → [cols, rows]. Used to pre-transpose PyTorch [out, in] linear weights. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const src = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[src + c];
  }
  return out;
}

/** Concatenation of flat arrays. */
export function concatArrays(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
