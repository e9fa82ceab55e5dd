// The ONNX vision tower against the plain Float64 reference (test/reference/clip-plain.ts) on a tiny
// random model.
import type * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HiddenAct } from '../../../../gpu-worker/clip/config.ts';
import { getOrBuildGraph } from '../../../../gpu-worker/clip/onnx/graph-cache.ts';
import { buildVisionGraph } from '../../../../gpu-worker/clip/onnx/vision-graph.ts';
import { createOrtSession, runVisionGraph } from '../../../../gpu-worker/runtime/ort.ts';
import { plainImageFeatures } from '../../../reference/clip-plain.ts';
import { expectRelClose } from '../../../helpers/numeric.ts';
import { randomTensor, SeededRandom } from '../../../helpers/random.ts';
import { tinyClip, TINY_P as P } from '../../../helpers/tiny-clip.ts';
import { useTmpDir } from '../../../helpers/tmp.ts';

const dir = useTmpDir('vision-graph-test-');

describe.each<HiddenAct>(['quick_gelu', 'gelu'])('ONNX vision graph (%s)', (act) => {
  const { weights, config, plain } = tinyClip(act === 'gelu' ? 13 : 17, { act });
  const cfg = config.vision;
  const c = cfg.numChannels;
  const s = cfg.imageSize;
  const per = c * s * s;
  let sess: ort.InferenceSession;
  beforeAll(async () => {
    const path = getOrBuildGraph('vision', `tiny-${act}`, dir, () => buildVisionGraph(weights.vision, cfg));
    sess = await createOrtSession(path, { provider: 'cpu', threads: 1 });
  });
  afterAll(async () => sess.release());

  it('matches the straight-loop reference on a batch of images', async () => {
    const n = 3;
    const px = randomTensor(new SeededRandom(41), [n, c, s, s], 1).data;
    const got = await runVisionGraph(sess, px, n, c, s);
    expect(got.length).toBe(n * P);
    for (let b = 0; b < n; b++) {
      const want = plainImageFeatures(plain, Float64Array.from(px.subarray(b * per, (b + 1) * per)));
      expectRelClose(got.subarray(b * P, (b + 1) * P), want, 1e-4);
    }
  });

  it('gives an image the same features alone as in a batch', async () => {
    const n = 4;
    const px = randomTensor(new SeededRandom(42), [n, c, s, s], 1).data;
    const batched = await runVisionGraph(sess, px, n, c, s);
    for (let b = 0; b < n; b++) {
      const alone = await runVisionGraph(sess, px.slice(b * per, (b + 1) * per), 1, c, s);
      expectRelClose(alone, batched.subarray(b * P, (b + 1) * P), 1e-5);
    }
  });

  it('rejects a pixel buffer of the wrong size', async () => {
    await expect(runVisionGraph(sess, new Float32Array(per - 1), 1, c, s)).rejects.toThrow(/values for/);
  });
});
