// ORT_EP: the execution provider setting. This machine has no CUDA provider library, so forcing CUDA must be
// one clear error naming what is missing (never a silent CPU fallback), and a bad value must be refused.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../gpu-worker/clip/onnx/graph-builder.ts';
import { createOrtSession, OrtProviderError, ortProviderFromEnv } from '../../../gpu-worker/runtime/ort.ts';
import { cocoop, CLIP_VOCAB } from '../../helpers/cli.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

const dir = useTmpDir('ort-ep-');

function identityGraph(): string {
  const g = new GraphBuilder('identity');
  g.output(g.op('Identity', [g.input('x', 'float', [1])]), 'y', 'float', [1]);
  const path = join(dir, 'identity.onnx');
  writeFileSync(path, g.toBytes());
  return path;
}

describe('ORT_EP', () => {
  it('reads cpu, cuda, auto (unset or empty) and refuses anything else', () => {
    expect(ortProviderFromEnv({})).toBe('auto');
    expect(ortProviderFromEnv({ ORT_EP: '' })).toBe('auto');
    expect(ortProviderFromEnv({ ORT_EP: 'CPU' })).toBe('cpu');
    expect(ortProviderFromEnv({ ORT_EP: 'cuda' })).toBe('cuda');
    expect(() => ortProviderFromEnv({ ORT_EP: 'gpu' })).toThrow(/ORT_EP must be cpu or cuda \(or unset for auto\), got "gpu"/);
  });

  it('cuda without the CUDA provider library: an OrtProviderError naming the library and the way out; cpu works', async () => {
    const path = identityGraph();
    const err = await createOrtSession(path, { provider: 'cuda' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OrtProviderError);
    expect((err as Error).message).toMatch(/ORT_EP=cuda.*libonnxruntime_providers_cuda\.so is not installed.*ORT_EP=cpu/);
    const s = await createOrtSession(path, { provider: 'cpu' });
    await s.release();
  });

  it('the CLI under ORT_EP=cuda (no CUDA here) or a bad ORT_EP: one line, exit 1', async () => {
    const model = join(dir, 'model');
    const made = await cocoop(['make-model', '--preset', 'tiny', '--out', model, '--vocab', CLIP_VOCAB]);
    expect(made.code).toBe(0);
    for (const [value, pattern] of [
      ['cuda', /libonnxruntime_providers_cuda\.so is not installed/],
      ['gpu', /ORT_EP must be cpu or cuda/],
    ] as const) {
      const r = await cocoop(['embed', '--model', model, '--text', 'a photo of a cat.'], 60_000, { ORT_EP: value, COCOOP_CACHE_DIR: join(dir, 'cache') });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
  }, 120_000);
});
