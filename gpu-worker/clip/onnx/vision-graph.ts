// CLIP vision tower as an ONNX graph (HF CLIPVisionModel + visual_projection = get_image_features).
//
//   pixel_values [batch, C, S, S] float32   preprocessed (normalised) pixels
//   image_embeds [batch, P]       float32   projected, un-normalised features
import type { VisionConfig } from '../config.ts';
import type { VisionWeights } from '../weights.ts';
import { encoderLayer, GraphBuilder, layerNorm } from './graph-builder.ts';

export function buildVisionGraph(weights: VisionWeights, cfg: VisionConfig): Uint8Array {
  const w = cfg.hiddenSize;
  const c = cfg.numChannels;
  const s = cfg.imageSize;
  const patch = cfg.patchSize;
  const numPatches = (s / patch) ** 2;
  const p = weights.projection.shape[0];
  const g = new GraphBuilder('clip_vision');

  const pixels = g.input('pixel_values', 'float', ['batch', c, s, s]); // [B, C, S, S]

  // Patch embedding: Conv2d(C → W, kernel = stride = patch, no bias).
  const convW = g.tensor(weights.patchEmbedding, 'patch_embedding'); // [W, C, p, p]
  const conv = g.op('Conv', [pixels, convW], { kernel_shape: [patch, patch], strides: [patch, patch] }); // [B, W, g, g]
  const patchesT = g.op('Reshape', [conv, g.int64([0, w, numPatches])]); // [B, W, np]
  let patches = g.op('Transpose', [patchesT], { perm: [0, 2, 1] }); // [B, np, W]

  // Embeddings = [class_embedding ; patches] + positions. The class row's sum is a constant,
  // precomputed in float32 (Math.fround of a double sum of two floats = the float32 sum).
  const posData = weights.positionEmbedding.data; // [1 + np, W]
  const cls = new Float32Array(w);
  for (let i = 0; i < w; i++) cls[i] = Math.fround(weights.classEmbedding.data[i] + posData[i]);
  const clsInit = g.floatInit('class_embedding_with_position', cls, [1, 1, w]); // [1, 1, W]
  const patchPos = g.floatInit('patch_position_embedding', posData.subarray(w), [numPatches, w]); // [np, W]
  patches = g.op('Add', [patches, patchPos]); // [B, np, W]

  const batchVec = g.op('Slice', [g.op('Shape', [pixels]), g.int64([0]), g.int64([1])]); // [1] = [B]
  const clsShape = g.op('Concat', [batchVec, g.int64([1, w])], { axis: 0 }); // [3] = [B, 1, W]
  const clsB = g.op('Expand', [clsInit, clsShape]); // [B, 1, W]
  let h = g.op('Concat', [clsB, patches], { axis: 1 }); // [B, 1 + np, W]

  h = layerNorm(g, h, weights.preLayerNorm, cfg.layerNormEps, 'vision.pre_ln');
  const opts = { heads: cfg.numAttentionHeads, eps: cfg.layerNormEps, act: cfg.hiddenAct };
  weights.layers.forEach((layer, i) => {
    h = encoderLayer(g, h, layer, opts, `vision.layer${i}`);
  });

  // post_layernorm on the CLS token only, then visual_projection.
  const clsOut = g.op('Gather', [h, g.int64([0], 'idx', [])], { axis: 1 }); // [B, W]
  const normed = layerNorm(g, clsOut, weights.postLayerNorm, cfg.layerNormEps, 'vision.post_ln');
  const proj = g.linearWeight(weights.projection, 'visual_projection'); // [W, P]
  const out = g.op('MatMul', [normed, proj]); // [B, P]
  g.output(out, 'image_embeds', 'float', ['batch', p]);
  return g.toBytes();
}
