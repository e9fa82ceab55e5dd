// End-to-end through the real `cocoop` command (bin/cocoop.mjs → gpu-worker/cli.ts), checked against the
// independent Float64 reference in test/reference/ (which shares no code with the product).
//
// Agreement criterion (features): relErr(a, b) = max_i |a_i − b_i| / max_i |b_i| ≤ 1e-4, per vector, where b is
// the reference. It is scale-free (features are un-normalised) and not fooled by near-zero entries, as an
// elementwise relative error would be. The product computes in float32: its round-off through the tiny model is
// ~1e-6 of the vector's scale (measured ≈ 2e-7), so 1e-4 leaves room for any summation order; a semantic slip (erf GELU instead of
// quick_gelu, pooling at the wrong position, a missing LayerNorm, a transposed weight) moves the features by
// percents. The test checks that it really does for two subtle slips, so the tolerance is known to discriminate.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadPlainModel,
  plainConfig,
  plainExpectedShapes,
  plainImageFeatures,
  plainPreprocessSquare,
  plainTextFeatures,
  plainTextHidden,
  OPENAI_MEAN,
  OPENAI_STD,
  type PlainModel,
} from '../reference/clip-plain.ts';
import { readSafetensorsHeader } from '../reference/safetensors-plain.ts';
import { CLIP_VOCAB, cocoop, cocoopJson, type Run } from '../helpers/cli.ts';

const TOL = 1e-4;

/** max_i |a_i − b_i| / max_i |b_i| (b = reference). */
function relErr(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  expect(den).toBeGreaterThan(0);
  return num / den;
}

function expectFeaturesClose(got: number[][], want: number[][]): void {
  expect(got.length).toBe(want.length);
  for (let k = 0; k < want.length; k++) {
    expect(got[k].every(Number.isFinite)).toBe(true);
    expect(relErr(got[k], want[k])).toBeLessThanOrEqual(TOL);
  }
}

function normalisation(dir: string): { mean: number[]; std: number[] } {
  const p = join(dir, 'preprocessor_config.json');
  if (!existsSync(p)) return { mean: OPENAI_MEAN, std: OPENAI_STD };
  const pre = JSON.parse(readFileSync(p, 'utf8')) as { image_mean?: number[]; image_std?: number[] };
  return { mean: pre.image_mean ?? OPENAI_MEAN, std: pre.image_std ?? OPENAI_STD };
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function writeRandomPng(path: string, S: number, seed: number): Promise<Uint8Array> {
  const r = rng(seed);
  const rgb = new Uint8Array(S * S * 3).map(() => Math.floor(r() * 256));
  await sharp(Buffer.from(rgb), { raw: { width: S, height: S, channels: 3 } }).png().toFile(path);
  return rgb;
}

/** Copy of a model dir with `edit` applied, for the error cases. */
function modelCopy(src: string, name: string, edit: (dir: string) => void): string {
  const dir = join(work, name);
  cpSync(src, dir, { recursive: true });
  edit(dir);
  return dir;
}

function expectOneLineError(r: Run, code: number, names: RegExp): void {
  expect(r.code, `exit code; stderr: ${r.stderr}`).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, `stderr: ${r.stderr}`).toHaveLength(1);
  expect(lines[0]).toMatch(names);
}

let work: string;
let realDir: string; // tiny preset, real CLIP vocab
let tinyVocabDir: string; // tiny preset, default generated vocab
let realDir2: string; // tiny preset, real vocab, same seed again (determinism)
let makeOut: { out: string }[];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cocoop-embed-'));
  realDir = join(work, 'tiny-real');
  tinyVocabDir = join(work, 'tiny-own');
  realDir2 = join(work, 'tiny-real-again');
  makeOut = await Promise.all([
    cocoopJson<{ out: string }>(['make-model', '--preset', 'tiny', '--seed', '1', '--out', realDir, '--vocab', CLIP_VOCAB]),
    cocoopJson<{ out: string }>(['make-model', '--preset', 'tiny', '--seed', '1', '--out', tinyVocabDir]),
    cocoopJson<{ out: string }>(['make-model', '--preset', 'tiny', '--seed', '1', '--out', realDir2, '--vocab', CLIP_VOCAB]),
  ]);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('cocoop make-model', () => {
  it('writes a HF-layout model dir and prints {"out": DIR}', () => {
    for (const [k, dir] of [realDir, tinyVocabDir, realDir2].entries()) {
      expect(Object.keys(makeOut[k])).toEqual(['out']);
      expect(resolve(makeOut[k].out)).toBe(resolve(dir));
      for (const f of ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt']) expect(existsSync(join(dir, f)), f).toBe(true);
      // the reference loads it: every tensor present with the shape its config implies
      const header = readSafetensorsHeader(join(dir, 'model.safetensors'));
      const cfg = plainConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
      for (const [name, shape] of plainExpectedShapes(cfg)) {
        expect(header.entries.get(name)?.shape, name).toEqual(name === 'logit_scale' ? expect.anything() : shape);
      }
    }
    // --vocab copies the real CLIP vocab
    const vocab = JSON.parse(readFileSync(join(realDir, 'vocab.json'), 'utf8')) as Record<string, number>;
    expect(vocab['<|endoftext|>']).toBe(49407);
    expect(readFileSync(join(realDir, 'merges.txt'), 'utf8')).toBe(readFileSync(join(CLIP_VOCAB, 'merges.txt'), 'utf8'));
  });

  it('is deterministic for a given seed', () => {
    expect(readFileSync(join(realDir2, 'model.safetensors')).equals(readFileSync(join(realDir, 'model.safetensors')))).toBe(true);
  });

  it('--preset small: config and tensor shapes agree (no numerical run)', async () => {
    const dir = join(work, 'small');
    const out = await cocoopJson<{ out: string }>(['make-model', '--preset', 'small', '--seed', '3', '--out', dir]);
    expect(resolve(out.out)).toBe(resolve(dir));
    for (const f of ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt']) expect(existsSync(join(dir, f)), f).toBe(true);
    const cfg = plainConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
    const tiny = plainConfig(JSON.parse(readFileSync(join(tinyVocabDir, 'config.json'), 'utf8')));
    expect(cfg.text.hidden).toBeGreaterThan(tiny.text.hidden); // it is a different, larger preset
    const header = readSafetensorsHeader(join(dir, 'model.safetensors'));
    for (const [name, shape] of plainExpectedShapes(cfg)) {
      const e = header.entries.get(name);
      expect(e, name).toBeDefined();
      expect(['F32', 'F16', 'BF16']).toContain(e!.dtype);
      if (name === 'logit_scale') expect([[], [1]]).toContainEqual(e!.shape);
      else expect(e!.shape, name).toEqual(shape);
    }
  });
});

describe('cocoop tokenize', () => {
  it('gives the OpenAI CLIP ids with the real vocab', async () => {
    const r = await cocoopJson<{ ids: number[][] }>(['tokenize', '--model', realDir, '--text', 'a photo of a cat.', '--text', 'hello world']);
    expect(r).toEqual({
      ids: [
        [49406, 320, 1125, 539, 320, 2368, 269, 49407],
        [49406, 3306, 1002, 49407],
      ],
    });
  });
});

describe('cocoop embed = Hugging Face CLIP (plain Float64 reference)', () => {
  let model: PlainModel;
  beforeAll(() => {
    model = loadPlainModel(realDir);
  });

  it('text and image features, real vocab', async () => {
    const texts = ['a photo of a cat.', 'hello world'];
    const S = model.config.vision.imageSize; // from DIR/config.json
    const { mean, std } = normalisation(realDir);
    const img1 = join(work, 'img1.png');
    const img2 = join(work, 'img2.png');
    const rgb1 = await writeRandomPng(img1, S, 101);
    const rgb2 = await writeRandomPng(img2, S, 202);

    const [tok, emb] = await Promise.all([
      cocoopJson<{ ids: number[][] }>(['tokenize', '--model', realDir, ...texts.flatMap((t) => ['--text', t])]),
      cocoopJson<{ text_embeds: number[][]; image_embeds: number[][] }>([
        'embed', '--model', realDir, ...texts.flatMap((t) => ['--text', t]), '--image', img1, '--image', img2, '--json',
      ]),
    ]);
    expect(Object.keys(emb).sort()).toEqual(['image_embeds', 'text_embeds']);
    const P = model.config.projectionDim;
    expect(emb.text_embeds.map((v) => v.length)).toEqual([P, P]);
    expect(emb.image_embeds.map((v) => v.length)).toEqual([P, P]);

    const wantText = tok.ids.map((ids) => plainTextFeatures(model, ids));
    const wantImage = [rgb1, rgb2].map((rgb) => plainImageFeatures(model, plainPreprocessSquare(rgb, S, mean, std)));
    expectFeaturesClose(emb.text_embeds, wantText);
    expectFeaturesClose(emb.image_embeds, wantImage);

    // The tolerance discriminates: subtle slips move the features well beyond it (erf GELU instead of
    // quick_gelu measured ≈ 4e-3 on this model; pooling one position early: far more).
    const withGelu: PlainModel = { ...model, config: { ...model.config, text: { ...model.config.text, act: 'gelu' } } };
    expect(relErr(plainTextFeatures(withGelu, tok.ids[0]), wantText[0])).toBeGreaterThan(10 * TOL);
    const ids = tok.ids[0];
    const h = plainTextHidden(model, ids);
    const proj = model.tensors.get('text_projection.weight')!.data;
    const D = model.config.text.hidden;
    const pooledBefore = h[ids.length - 2]; // one position before EOT
    const wrongPool = Array.from({ length: P }, (_, o) => {
      let s = 0;
      for (let d = 0; d < D; d++) s += proj[o * D + d] * pooledBefore[d];
      return s;
    });
    expect(relErr(wrongPool, wantText[0])).toBeGreaterThan(100 * TOL);
  });

  it('only the asked-for keys: text only', async () => {
    const emb = await cocoopJson<Record<string, number[][]>>(['embed', '--model', realDir, '--text', 'hello world', '--json']);
    expect(Object.keys(emb)).toEqual(['text_embeds']);
    const ids = [49406, 3306, 1002, 49407];
    expectFeaturesClose(emb.text_embeds, [plainTextFeatures(model, ids)]);
  });

  it('text features with the default tiny generated vocab (EOT id by name from vocab.json)', async () => {
    const own = loadPlainModel(tinyVocabDir);
    const vocab = JSON.parse(readFileSync(join(tinyVocabDir, 'vocab.json'), 'utf8')) as Record<string, number>;
    const eot = vocab['<|endoftext|>'];
    const sot = vocab['<|startoftext|>'];
    expect(own.eotId).toBe(eot);
    const texts = ['a photo of a cat.', 'an unusual wordz, 42!'];
    const [tok, emb] = await Promise.all([
      cocoopJson<{ ids: number[][] }>(['tokenize', '--model', tinyVocabDir, ...texts.flatMap((t) => ['--text', t])]),
      cocoopJson<{ text_embeds: number[][] }>(['embed', '--model', tinyVocabDir, ...texts.flatMap((t) => ['--text', t]), '--json']),
    ]);
    for (const ids of tok.ids) {
      expect(ids[0]).toBe(sot);
      expect(ids[ids.length - 1]).toBe(eot);
      expect(ids.indexOf(eot)).toBe(ids.length - 1);
    }
    expectFeaturesClose(
      emb.text_embeds,
      tok.ids.map((ids) => plainTextFeatures(own, ids)),
    );
  });
});

describe('cocoop errors', () => {
  it('bad inputs: exit 1 and one stderr line naming the file or argument', async () => {
    const truncated = modelCopy(realDir, 'truncated', (d) => {
      const f = join(d, 'model.safetensors');
      truncateSync(f, statSync(f).size - 1000);
    });
    const corrupt = modelCopy(realDir, 'corrupt', (d) => {
      const fd = openSync(join(d, 'model.safetensors'), 'r+');
      const huge = Buffer.alloc(8);
      huge.writeBigUInt64LE(0x7fff_ffff_ffff_fff0n);
      writeSync(fd, huge, 0, 8, 0);
      closeSync(fd);
    });
    const noVocab = modelCopy(realDir, 'no-vocab', (d) => rmSync(join(d, 'vocab.json'), { force: true }));
    const mismatch = modelCopy(realDir, 'mismatch', (d) => {
      const p = join(d, 'config.json');
      const cfg = JSON.parse(readFileSync(p, 'utf8'));
      cfg.text_config.hidden_size = 2 * (cfg.text_config.hidden_size ?? 512);
      writeFileSync(p, JSON.stringify(cfg));
    });
    const textFile = join(work, 'notes.txt');
    writeFileSync(textFile, 'this is not an image\n');
    const longPrompt = Array.from({ length: 100 }, () => 'cat').join(' '); // 100 tokens + SOT + EOT > 77

    const cases: [string, string[], RegExp][] = [
      ['truncated weights', ['embed', '--model', truncated, '--text', 'a cat', '--json'], /model\.safetensors/],
      ['corrupt header', ['embed', '--model', corrupt, '--text', 'a cat', '--json'], /model\.safetensors/],
      ['missing vocab', ['embed', '--model', noVocab, '--text', 'a cat', '--json'], /vocab\.json/],
      ['config ≠ weights', ['embed', '--model', mismatch, '--text', 'a cat', '--json'], /config\.json|model\.safetensors/],
      ['image is a text file', ['embed', '--model', realDir, '--image', textFile, '--json'], new RegExp(basename(textFile).replace('.', '\\.'))],
      ['prompt too long', ['embed', '--model', realDir, '--text', longPrompt, '--json'], /77|token|--text|prompt/i],
    ];
    const runs = await Promise.all(cases.map(([, args]) => cocoop(args)));
    cases.forEach(([what, , names], k) => {
      try {
        expectOneLineError(runs[k], 1, names);
      } catch (e) {
        throw new Error(`${what}: ${(e as Error).message}`);
      }
    });
  });

  it('usage errors: exit 2', async () => {
    const [unknown, noModel] = await Promise.all([
      cocoop(['frobnicate', '--json']),
      cocoop(['embed', '--text', 'a cat', '--json']),
    ]);
    expectOneLineError(unknown, 2, /frobnicate/);
    expectOneLineError(noModel, 2, /--model/);
  });
});
