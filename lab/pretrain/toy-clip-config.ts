// The architecture of the bundled toy CLIP: a CLIP in every respect (HF CLIPModel layout, quick_gelu,
// 77 text positions, OpenAI normalisation), only small: ≈ 0.45M parameters, 48×48 images in 16×16 patches
// (3×3 patches: measured to learn shapes ≈ 2× faster per step than 8×8 patches, at half the cost per step).
import { TEXT_DEFAULTS, VISION_DEFAULTS, type ClipConfig } from '../../gpu-worker/clip/config.ts';

export const TOY_IMAGE_SIZE = 48;

export function toyClipConfig(vocabSize: number): ClipConfig {
  return {
    text: { ...TEXT_DEFAULTS, vocabSize, hiddenSize: 64, intermediateSize: 256, numHiddenLayers: 3, numAttentionHeads: 4 },
    vision: {
      ...VISION_DEFAULTS,
      hiddenSize: 64,
      intermediateSize: 256,
      numHiddenLayers: 4,
      numAttentionHeads: 4,
      imageSize: TOY_IMAGE_SIZE,
      patchSize: 16,
    },
    projectionDim: 64,
    logitScaleInitValue: Math.log(1 / 0.07),
  };
}
