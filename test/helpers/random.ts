// Seeded random test data (weights, inputs, pixels) from the product's generator; what the tests
// compute from that data is checked against test/reference/, which does not use it.
import type { HostTensor } from '../../gpu-worker/clip/safetensors.ts';
import { SeededRandom } from '../../gpu-worker/clip/random.ts';

export { SeededRandom };

/** A uniform [0, 1) stream as a plain function. */
export function uniformStream(seed: number): () => number {
  const rng = new SeededRandom(seed);
  return () => rng.uniform();
}

/** Uniform integer in [0, n). */
export function randomInt(rng: SeededRandom, n: number): number {
  return Math.floor(rng.uniform() * n);
}

/** A float32 tensor of normals with the given std and mean. */
export function randomTensor(rng: SeededRandom, shape: number[], std: number, mean = 0): HostTensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  return { shape, data: rng.fillNormal(data, std, mean) };
}
