// Smoke run of `npm run bench:gpu` (scripts/bench-gpu.ts) on the tiny preset: one JSON document naming the
// provider and device, a ceiling and one run per class count; ORT_EP=cuda on this CUDA-less machine is one
// line and exit 1.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/processes.ts';

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [join(ROOT, 'bin/run-ts.mjs'), join(ROOT, 'scripts/bench-gpu.ts'), ...args], { cwd: ROOT, env: { ...process.env, ORT_EP: '', ...env }, timeout: 110_000 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

describe('npm run bench:gpu', () => {
  it('prints one JSON document with the provider, device, ceiling and a run per class count', async () => {
    const r = await run(['--preset', 'tiny', '--classes', '3,5', '--quick']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      provider: string;
      device: string;
      ceiling: { matmul_gflops: number };
      runs: { classes: number; train_s_per_step: number; train_fraction_of_ceiling: number; infer_images_per_s: number }[];
    };
    expect(out.provider).toBe('cpu'); // no CUDA provider library here
    expect(out.device).toMatch(/cores$/);
    expect(out.ceiling.matmul_gflops).toBeGreaterThan(0);
    expect(out.runs.map((x) => x.classes)).toEqual([3, 5]);
    for (const x of out.runs) {
      expect(x.train_s_per_step).toBeGreaterThan(0);
      expect(x.infer_images_per_s).toBeGreaterThan(0);
      expect(x.train_fraction_of_ceiling).toBeGreaterThan(0);
    }
  }, 120_000);

  it('ORT_EP=cuda without CUDA: one line naming the missing library, exit 1', async () => {
    const r = await run(['--preset', 'tiny', '--classes', '3', '--quick'], { ORT_EP: 'cuda' });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/libonnxruntime_providers_cuda\.so is not installed/);
  }, 120_000);
});
