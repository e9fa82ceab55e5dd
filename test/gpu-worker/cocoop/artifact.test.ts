import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { presetConfig } from '../../../gpu-worker/clip/presets.ts';
import { SeededRandom } from '../../../gpu-worker/clip/random.ts';
import { readSafetensors, writeSafetensors } from '../../../gpu-worker/clip/safetensors.ts';
import { initMetaNet, type AdapterParams } from '../../../gpu-worker/cocoop/adapter.ts';
import { AdapterError, readAdapter, writeAdapter } from '../../../gpu-worker/cocoop/artifact.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

const cfg = presetConfig('tiny', 1000); // text D = 32, projection 16 → meta-net 16 → 1 → 32
const SHA = 'a'.repeat(64);
const dir = useTmpDir('adapter-');

function cocoopParams(seed: number): AdapterParams {
  const rng = new SeededRandom(seed);
  return {
    method: 'cocoop',
    ctx: { shape: [4, 32], data: rng.fillNormal(new Float32Array(128), 0.02) },
    metaNet: initMetaNet(rng, 16, 32),
    ctxInit: 'a photo of a',
  };
}

describe('adapter artifact', () => {
  it('round-trips a CoCoOp adapter with the official tensor names and PyTorch layouts', () => {
    const p = cocoopParams(1);
    const path = join(dir, 'a.safetensors');
    writeAdapter(path, p, { baseModelSha256: SHA, classNames: ['cat', 'dog'], metrics: { train_accuracy: 0.75 } });
    const raw = readSafetensors(path);
    expect([...raw.tensors.keys()].sort()).toEqual(
      ['ctx', 'meta_net.linear1.bias', 'meta_net.linear1.weight', 'meta_net.linear2.bias', 'meta_net.linear2.weight'].sort(),
    );
    expect(raw.tensors.get('meta_net.linear1.weight')!.shape).toEqual([1, 16]); // [vis/16, vis]
    expect(raw.tensors.get('meta_net.linear2.weight')!.shape).toEqual([32, 1]); // [D, vis/16]
    expect(raw.metadata).toMatchObject({ format: 'cocoop-adapter', version: '1', method: 'cocoop', n_ctx: '4', ctx_init: 'a photo of a', base_model_sha256: SHA });
    expect(JSON.parse(raw.metadata.train_accuracy)).toBe(0.75);
    const back = readAdapter(path, { config: cfg, sha256: SHA });
    expect(back.classNames).toEqual(['cat', 'dog']);
    expect(Array.from(back.params.ctx.data)).toEqual(Array.from(p.ctx.data));
    expect(Array.from(back.params.metaNet!.linear2.weight.data)).toEqual(Array.from(p.metaNet!.linear2.weight.data));
  });

  it('a CoOp adapter holds only ctx', () => {
    const path = join(dir, 'coop.safetensors');
    writeAdapter(path, { method: 'coop', ctx: cocoopParams(2).ctx, ctxInit: '' }, { baseModelSha256: SHA, classNames: ['a', 'b'] });
    expect([...readSafetensors(path).tensors.keys()]).toEqual(['ctx']);
    expect(readAdapter(path, { config: cfg, sha256: SHA }).params.metaNet).toBeUndefined();
  });

  it('refuses an adapter for another base model, with wrong shapes, or that is not an adapter', () => {
    const path = join(dir, 'b.safetensors');
    writeAdapter(path, cocoopParams(3), { baseModelSha256: SHA, classNames: ['x', 'y'] });
    expect(() => readAdapter(path, { config: cfg, sha256: 'b'.repeat(64) })).toThrow(/trained on another base model/);
    const wider = presetConfig('small', 1000);
    expect(() => readAdapter(path, { config: wider, sha256: SHA })).toThrow(AdapterError);
    expect(() => readAdapter(path, { config: wider, sha256: SHA })).toThrow(/"ctx" has shape \[4,32\], this base model needs \[4,128\]/);
    const notAdapter = join(dir, 'model.safetensors');
    writeSafetensors(notAdapter, { ctx: { shape: [4, 32], data: new Float32Array(128) } });
    expect(() => readAdapter(notAdapter, { config: cfg, sha256: SHA })).toThrow(/not a cocoop adapter/);
    const garbage = join(dir, 'garbage.safetensors');
    writeFileSync(garbage, 'hello, I am not a safetensors file at all');
    expect(() => readAdapter(garbage, { config: cfg, sha256: SHA })).toThrow(/garbage\.safetensors.*not a valid adapter file/);
    const bytes = readFileSync(path);
    const truncated = join(dir, 'truncated.safetensors');
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 10));
    expect(() => readAdapter(truncated, { config: cfg, sha256: SHA })).toThrow(AdapterError);
  });
});
