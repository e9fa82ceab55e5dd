// Zero-shot accuracy of a saved CLIP over all 64 toy-world labels in each domain, through the product's
// ORT inference path (the same path `cocoop eval` uses).
import { loadClipModel } from '../../gpu-worker/clip/model.ts';
import { OrtClipEncoders } from '../../gpu-worker/clip/ort-encoders.ts';
import { CocoopInference } from '../../gpu-worker/cocoop/ort-inference.ts';
import { accuracyOn, imageSetFeatures } from './evaluate.ts';
import { TOY_DOMAINS, toyImageSet, type ToyDomain } from './image-sets.ts';
import { CLASS_NAMES } from './world.ts';

export type ZeroShotAccuracies = Record<ToyDomain, number>;

export async function zeroShotReport(modelDir: string, perClass: number, seed: number): Promise<ZeroShotAccuracies> {
  const model = loadClipModel(modelDir);
  const encoders = new OrtClipEncoders(model);
  try {
    const inference = new CocoopInference(encoders);
    const out = {} as ZeroShotAccuracies;
    for (const domain of TOY_DOMAINS) {
      const set = await toyImageSet(domain, 'test', seed, CLASS_NAMES, perClass, model.config.vision.imageSize);
      out[domain] = await accuracyOn(inference, await imageSetFeatures(encoders, set), set, null);
    }
    return out;
  } finally {
    await encoders.release();
  }
}
