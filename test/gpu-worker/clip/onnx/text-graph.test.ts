// The ONNX text tower against the plain Float64 reference (test/reference/clip-plain.ts) on a tiny
// random model; plus causal truncation, batching and the graph cache.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HiddenAct } from '../../../../gpu-worker/clip/config.ts';
import { getOrBuildGraph } from '../../../../gpu-worker/clip/onnx/graph-cache.ts';
import { buildTextGraph } from '../../../../gpu-worker/clip/onnx/text-graph.ts';
import { createOrtSession, runTextGraph } from '../../../../gpu-worker/runtime/ort.ts';
import { plainTextFeatures } from '../../../reference/clip-plain.ts';
import { expectRelClose } from '../../../helpers/numeric.ts';
import { SeededRandom } from '../../../helpers/random.ts';
import { embedWithJunk, tinyClip, TINY_P as P } from '../../../helpers/tiny-clip.ts';
import { useTmpDir } from '../../../helpers/tmp.ts';

const dir = useTmpDir('text-graph-test-');

async function session(bytes: Uint8Array, name: string): Promise<ort.InferenceSession> {
  const path = getOrBuildGraph('text', name, dir, () => bytes);
  return createOrtSession(path, { provider: 'cpu', threads: 1 });
}

// SOT=98, EOT=99; prompts of different lengths
const PROMPTS = [
  [98, 5, 17, 99],
  [98, 3, 44, 12, 61, 7, 2, 99],
  [98, 99],
  [98, 10, 20, 30, 40, 50, 60, 70, 80, 90, 1, 99],
  [98, 33, 99],
];

describe.each<HiddenAct>(['quick_gelu', 'gelu'])('ONNX text graph (%s)', (act) => {
  const { weights, config, plain } = tinyClip(act === 'gelu' ? 7 : 3, { act });
  const w = weights.text;
  const cfg = config.text;
  const d = cfg.hiddenSize;
  const eot = PROMPTS.map((p) => p.length - 1);
  const n = PROMPTS.length;
  const embed = (prompts: number[][], len: number, seed: number) =>
    embedWithJunk(w.tokenEmbedding, prompts, len, new SeededRandom(seed));
  let s: ort.InferenceSession;
  beforeAll(async () => {
    s = await session(buildTextGraph(w, cfg), `tiny-${act}`);
  });
  afterAll(async () => s.release());

  it('matches the straight-loop reference on a batch with different EOT positions', async () => {
    const len = Math.max(...eot) + 1;
    const got = await runTextGraph(s, embed(PROMPTS, len, 11), n, len, d, eot);
    expect(got.length).toBe(n * P);
    const want = PROMPTS.map((ids) => plainTextFeatures(plain, ids));
    expectRelClose(got, want.flat(), 1e-4);
    for (let b = 0; b < n; b++) expectRelClose(got.subarray(b * P, (b + 1) * P), want[b], 1e-4);
  });

  it('gives the same outputs for seq = max(eot)+1 and seq = 77 with garbage after the EOT', async () => {
    const short = Math.max(...eot) + 1;
    const full = cfg.maxPositionEmbeddings;
    const a = await runTextGraph(s, embed(PROMPTS, short, 21), n, short, d, eot);
    const b = await runTextGraph(s, embed(PROMPTS, full, 22), n, full, d, eot);
    expectRelClose(a, b, 1e-5);
  });

  it('gives each prompt the same features alone as in a batch', async () => {
    const len = Math.max(...eot) + 1;
    const batched = await runTextGraph(s, embed(PROMPTS, len, 31), n, len, d, eot);
    for (let b = 0; b < n; b++) {
      const own = eot[b] + 1;
      const alone = await runTextGraph(s, embed([PROMPTS[b]], own, 32), 1, own, d, [eot[b]]);
      expectRelClose(alone, batched.subarray(b * P, (b + 1) * P), 1e-5);
    }
  });
});

describe('text graph runner and cache', () => {
  const { weights, config } = tinyClip(5);
  const w = weights.text;
  const cfg = config.text;

  it('rejects EOT indices outside the sequence', async () => {
    const s = await session(buildTextGraph(w, cfg), 'tiny-eot-check');
    const embeds = new Float32Array(2 * 4 * cfg.hiddenSize);
    await expect(runTextGraph(s, embeds, 2, 4, cfg.hiddenSize, [3, 4])).rejects.toThrow(/EOT index 4/);
    await expect(runTextGraph(s, embeds, 2, 4, cfg.hiddenSize, [3])).rejects.toThrow(/EOT indices/);
    await s.release();
  });

  it('builds a graph once per (kind, weights hash) and reuses the file', () => {
    const cacheDir = join(dir, 'cache');
    let builds = 0;
    const build = () => {
      builds++;
      return buildTextGraph(w, cfg);
    };
    const hash = 'ab'.repeat(32);
    const first = getOrBuildGraph('text', hash, cacheDir, build);
    const second = getOrBuildGraph('text', hash, cacheDir, build);
    expect(second).toBe(first);
    expect(builds).toBe(1);
    expect(first).toContain('text');
    expect(first).toContain(hash);
    const other = getOrBuildGraph('vision', hash, cacheDir, () => new Uint8Array([1]));
    expect(other).not.toBe(first);
    expect(readdirSync(cacheDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(() => getOrBuildGraph('text', '../evil', cacheDir, build)).toThrow(/invalid weights hash/);
  });

  it("'auto' provider falls back to CPU with at most one log line", async () => {
    const path = getOrBuildGraph('text', 'tiny-auto', dir, () => buildTextGraph(w, cfg));
    const lines: string[] = [];
    const s = await createOrtSession(path, { provider: 'auto', threads: 1, log: (l) => lines.push(l) });
    expect(lines.length).toBeLessThanOrEqual(1);
    for (const l of lines) expect(l).toMatch(/^onnxruntime: CUDA provider unavailable \(.*\), using CPU$/);
    const out = await runTextGraph(s, embedWithJunk(w.tokenEmbedding, [PROMPTS[0]], 4, new SeededRandom(1)), 1, 4, cfg.hiddenSize, [3]);
    expect(out.length).toBe(P);
    await s.release();
  });
});
