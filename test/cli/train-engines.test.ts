// `cocoop train --engine ort|tfjs --init-adapter FILE --no-augment --no-shuffle`: deterministic runs that
// two engines can be compared on, through the real command. Adapters are read back with the independent
// safetensors reader of test/reference/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { readSafetensorsHeader, readSafetensorsPlain } from '../reference/safetensors-plain.ts';
import { CLIP_VOCAB, cocoop, cocoopJson } from '../helpers/cli.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const root = useTmpDir('cli-engines-');
const modelDir = join(root, 'model');
const otherModelDir = join(root, 'other');
const data = join(root, 'data');

function tensors(path: string): Map<string, Float64Array> {
  return new Map([...readSafetensorsPlain(path)].map(([k, t]) => [k, t.data]));
}

/** max |a − b| / max |b − init| over every tensor: the difference of two runs relative to how far they moved. */
function relUpdateDiff(a: string, b: string, init: string): number {
  const [ta, tb, ti] = [tensors(a), tensors(b), tensors(init)];
  let diff = 0;
  let moved = 0;
  for (const [k, vb] of tb) {
    const va = ta.get(k)!;
    const vi = ti.get(k)!;
    vb.forEach((x, i) => {
      diff = Math.max(diff, Math.abs(va[i] - x));
      moved = Math.max(moved, Math.abs(x - vi[i]));
    });
  }
  return diff / moved;
}

function oneLine(r: { code: number; stderr: string }, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
}

describe('cocoop train engines', () => {
  const init = join(root, 'init.safetensors');
  const base = () => ['train', '--model', modelDir, '--data', data, '--epochs', '2', '--lr', '0.05', '--batch-size', '2', '--json'];

  beforeAll(async () => {
    await cocoopJson(['make-model', '--preset', 'tiny', '--seed', '3', '--out', modelDir, '--vocab', CLIP_VOCAB]);
    await cocoopJson(['make-model', '--preset', 'tiny', '--seed', '4', '--out', otherModelDir, '--vocab', CLIP_VOCAB]);
    const colours: Record<string, [number, number, number]> = { red: [200, 40, 40], green: [40, 190, 60], blue: [40, 60, 210] };
    for (const [name, rgb] of Object.entries(colours)) {
      mkdirSync(join(data, name), { recursive: true });
      for (let i = 0; i < 3; i++) {
        const px = Buffer.alloc(36 * 36 * 3);
        for (let j = 0; j < px.length; j++) px[j] = Math.max(0, Math.min(255, rgb[j % 3] + ((j * 31 + i * 17) % 41) - 20));
        await sharp(px, { raw: { width: 36, height: 36, channels: 3 } }).png().toFile(join(data, name, `img${i}.png`));
      }
    }
    await cocoopJson([...base(), '--epochs', '1', '--out', init]);
  }, 180_000);

  it('ort and tfjs from the same --init-adapter with --no-augment --no-shuffle agree within 1e-3; ort runs repeat exactly', async () => {
    const flags = ['--init-adapter', init, '--no-augment', '--no-shuffle'];
    const a = join(root, 'ort-a.safetensors');
    const b = join(root, 'ort-b.safetensors');
    const t = join(root, 'tfjs.safetensors');
    const outA = await cocoopJson<{ engine: string }>([...base(), ...flags, '--engine', 'ort', '--out', a]);
    await cocoopJson([...base(), ...flags, '--engine', 'ort', '--out', b]);
    const outT = await cocoopJson<{ engine: string }>([...base(), ...flags, '--engine', 'tfjs', '--out', t]);
    expect(outA.engine).toMatch(/^ort /);
    expect(outT.engine).toMatch(/^tfjs /);
    // Two ort runs: the same tensors, bit for bit (the metadata differs only in the measured seconds).
    const [ta, tb] = [tensors(a), tensors(b)];
    expect([...ta.keys()].sort()).toEqual([...tb.keys()].sort());
    for (const [k, v] of ta) expect(Array.from(tb.get(k)!), k).toEqual(Array.from(v));
    expect(relUpdateDiff(a, t, init)).toBeLessThan(1e-3);
    // The engine is recorded in the adapter's metadata.
    expect(readSafetensorsHeader(a).metadata.engine).toMatch(/ort/);
  }, 180_000);

  it('refuses an unknown engine, an init adapter of another model or method, and --init-adapter with --n-ctx, in one line', async () => {
    const out = join(root, 'x.safetensors');
    oneLine(await cocoop([...base(), '--engine', 'jax', '--out', out]), 2, /--engine must be one of ort, tfjs, got "jax"/);
    oneLine(await cocoop(['train', '--model', otherModelDir, '--data', data, '--init-adapter', init, '--out', out]), 1, /another base model/);
    oneLine(await cocoop([...base(), '--method', 'coop', '--init-adapter', init, '--out', out]), 2, /is a cocoop adapter; --method is coop/);
    oneLine(await cocoop([...base(), '--init-adapter', init, '--n-ctx', '2', '--out', out]), 2, /--init-adapter sets the context/);
    oneLine(await cocoop([...base(), '--init-adapter', join(modelDir, 'model.safetensors'), '--out', out]), 1, /not a cocoop adapter/);
  }, 180_000);
});
