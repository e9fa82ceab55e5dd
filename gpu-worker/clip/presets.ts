// Model-size presets for `cocoop make-model`: random-weight CLIPs for tests and benchmarks.
// vit-b16 has exactly the shapes of openai/clip-vit-base-patch16 (~150M parameters).
import { TEXT_DEFAULTS, VISION_DEFAULTS, type ClipConfig } from './config.ts';

export type PresetName = 'tiny' | 'small' | 'vit-b16';
export const PRESET_NAMES: PresetName[] = ['tiny', 'small', 'vit-b16'];

/** The config of a preset; `vocabSize` comes from the vocab the model is written with. */
export function presetConfig(name: PresetName, vocabSize: number): ClipConfig {
  switch (name) {
    case 'tiny':
      return {
        text: { ...TEXT_DEFAULTS, vocabSize, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4 },
        vision: {
          ...VISION_DEFAULTS,
          hiddenSize: 32,
          intermediateSize: 64,
          numHiddenLayers: 2,
          numAttentionHeads: 4,
          imageSize: 32,
          patchSize: 8,
        },
        projectionDim: 16,
        logitScaleInitValue: 2.6592,
      };
    case 'small':
      return {
        text: { ...TEXT_DEFAULTS, vocabSize, hiddenSize: 128, intermediateSize: 512, numHiddenLayers: 4, numAttentionHeads: 4 },
        vision: {
          ...VISION_DEFAULTS,
          hiddenSize: 128,
          intermediateSize: 512,
          numHiddenLayers: 4,
          numAttentionHeads: 4,
          imageSize: 64,
          patchSize: 16,
        },
        projectionDim: 64,
        logitScaleInitValue: 2.6592,
      };
    case 'vit-b16':
      // The token table is always 49408 rows (like OpenAI CLIP), whichever vocab the ids come from.
      return {
        text: { ...TEXT_DEFAULTS, vocabSize: Math.max(49408, vocabSize) },
        vision: { ...VISION_DEFAULTS, patchSize: 16 },
        projectionDim: 512,
        logitScaleInitValue: 2.6592,
      };
  }
}
