import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { linear, makeLayerNorm } from '../../../lab/pretrain/trainable-ops.ts';
import { contrastiveLoss, patchify, TrainableClip, type TextBatch } from '../../../lab/pretrain/trainable-clip.ts';
import { plainImageFeatures, plainTextFeatures } from '../../reference/clip-plain.ts';
import { relErr, relErrRows } from '../../helpers/numeric.ts';
import { randomTensor, SeededRandom } from '../../helpers/random.ts';
import { randomPrompts, tinyClip, TINY_EOT } from '../../helpers/tiny-clip.ts';
import { useTfWasm } from '../../helpers/tf-wasm.ts';

useTfWasm();

function textBatch(prompts: number[][]): TextBatch {
  const l = Math.max(...prompts.map((p) => p.length)) + 2; // junk after EOT must not matter
  const ids = new Int32Array(prompts.length * l).fill(7);
  prompts.forEach((p, i) => ids.set(p, i * l));
  return { ids, n: prompts.length, l, eot: prompts.map((p) => p.indexOf(TINY_EOT)) };
}

describe('trainable ops: custom gradients equal TF.js autodiff of the plain formulas', () => {
  it('linear (with and without bias) and LayerNorm', () => {
    const rng = new SeededRandom(3);
    const x = tf.tensor2d(randomTensor(rng, [5, 4], 1).data, [5, 4]);
    const w = tf.tensor2d(randomTensor(rng, [4, 3], 1).data, [4, 3]);
    const b = tf.tensor1d(randomTensor(rng, [3], 1).data);
    const up = tf.tensor2d(randomTensor(rng, [5, 3], 1).data, [5, 3]); // upstream weights → non-trivial dy
    const ours = tf.grads((x, w, b) => tf.sum(tf.mul(linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), up)))([x, w, b]);
    const ref = tf.grads((x, w, b) => tf.sum(tf.mul(tf.add(tf.matMul(x, w), b), up)))([x, w, b]);
    for (let i = 0; i < 3; i++) expect(relErr(ours[i].dataSync(), ref[i].dataSync())).toBeLessThan(1e-5);
    const noBias = tf.grads((x, w) => tf.sum(tf.mul(linear(x as tf.Tensor2D, w as tf.Tensor2D, null), up)))([x, w]);
    expect(relErr(noBias[1].dataSync(), ref[1].dataSync())).toBeLessThan(1e-5);

    const ln = makeLayerNorm(1e-5);
    const g = tf.tensor1d(randomTensor(rng, [4], 1).data);
    const be = tf.tensor1d(randomTensor(rng, [4], 1).data);
    const up2 = tf.tensor2d(randomTensor(rng, [5, 4], 1).data, [5, 4]);
    const plainLn = (x: tf.Tensor, g: tf.Tensor, be: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), be);
    };
    const lo = tf.grads((x, g, be) => tf.sum(tf.mul(ln(x as tf.Tensor2D, g as tf.Tensor1D, be as tf.Tensor1D), up2)))([x.slice([0, 0], [5, 4]), g, be]);
    const lr = tf.grads((x, g, be) => tf.sum(tf.mul(plainLn(x, g, be), up2)))([x, g, be]);
    for (let i = 0; i < 3; i++) expect(relErr(lo[i].dataSync(), lr[i].dataSync())).toBeLessThan(1e-4);
  });
});

describe('TrainableClip', () => {
  it('text and image features match the Float64 reference CLIP', () => {
    const m = tinyClip(21, { vision: { patch_size: 4 } });
    const model = new TrainableClip(m.config, m.tensors);
    const rng = new SeededRandom(21);
    const prompts = randomPrompts(rng, [1, 4, 7]);
    const text = model.encodeText(textBatch(prompts));
    expect(relErrRows(text.dataSync(), prompts.map((p) => plainTextFeatures(m.plain, p)))).toBeLessThan(1e-4);

    const s = m.config.vision.imageSize;
    const n = 3;
    const px = randomTensor(rng, [n, 3, s, s], 1).data;
    const images = model.encodeImages({ patches: patchify(px, n, s, 4), n });
    const per = 3 * s * s;
    const ref = Array.from({ length: n }, (_, i) => plainImageFeatures(m.plain, Float64Array.from(px.subarray(i * per, (i + 1) * per))));
    expect(relErrRows(images.dataSync(), ref)).toBeLessThan(1e-4);
    tf.dispose([text, images]);
    model.dispose();
  });

  it('round-trips Hugging Face tensors exactly', async () => {
    const m = tinyClip(22);
    const model = new TrainableClip(m.config, m.tensors);
    const back = await model.toHfTensors();
    expect([...back.keys()].sort()).toEqual([...m.tensors.keys()].sort());
    for (const [name, t] of m.tensors) {
      expect(back.get(name)!.shape).toEqual(t.shape);
      expect(Array.from(back.get(name)!.data)).toEqual(Array.from(t.data));
    }
    model.dispose();
  });

  it('gradients of the contrastive loss match central finite differences', () => {
    const m = tinyClip(23);
    const model = new TrainableClip(m.config, m.tensors);
    const rng = new SeededRandom(23);
    const n = 4;
    const s = m.config.vision.imageSize;
    const patches = patchify(randomTensor(rng, [n, 3, s, s], 1).data, n, s, m.config.vision.patchSize);
    const texts = textBatch(randomPrompts(rng, [2, 3, 4, 5]));
    const lossFn = () => contrastiveLoss(model.encodeImages({ patches, n }), model.encodeText(texts), model.logitScale());
    const names = [
      'vision_model.encoder.layers.1.mlp.fc1.weight',
      'vision_model.embeddings.patch_embedding.weight',
      'vision_model.pre_layrnorm.weight',
      'text_model.encoder.layers.0.self_attn.q_proj.weight',
      'text_model.embeddings.token_embedding.weight',
      'text_model.final_layer_norm.bias',
      'text_projection.weight',
      'logit_scale',
    ];
    const vars = names.map((nm) => model.vars.get(nm)!);
    const { grads } = tf.variableGrads(lossFn, vars);
    let checked = 0;
    for (const v of vars) {
      const g = grads[v.name].dataSync();
      // The entry with the largest gradient: finite differences there are well above float32 noise.
      let k = 0;
      for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[k])) k = i;
      const orig = v.dataSync().slice();
      const eps = 1e-2;
      const at = (delta: number) => {
        const d = orig.slice();
        d[k] += delta;
        v.assign(tf.tensor(d, v.shape));
        return tf.tidy(() => lossFn().dataSync()[0]);
      };
      const fd = (at(eps) - at(-eps)) / (2 * eps);
      v.assign(tf.tensor(orig, v.shape));
      expect(Math.abs(fd - g[k]) / Math.abs(g[k]), v.name).toBeLessThan(0.03);
      checked++;
    }
    expect(checked).toBe(names.length);
    tf.dispose(Object.values(grads));
    model.dispose();
  });
});
