// `npm run bench:gpu`: one self-contained benchmark for a GPU machine (it runs on CPU too). It makes its own
// random-weight vit-b16 model (the shapes of openai/clip-vit-base-patch16, the real CLIP vocabulary), then on
// whichever ONNX Runtime execution provider loads (ORT_EP=cpu|cuda forces one) times CoCoOp training (the ort
// engine, batch 1, the view's image feature included) and inference at 10 and 100 classes, next to the
// provider's matmul ceiling measured in the same run, and prints one JSON document naming the provider and device.
// Unattended; about 3 minutes on 2 CPU cores.
//
//   npm run bench:gpu                      # vit-b16, 10 and 100 classes
//   npm run bench:gpu -- --preset tiny --classes 4 --quick   # smoke run (the tests)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { makeModel } from '../gpu-worker/clip/make-model.ts';
import { loadClipModel } from '../gpu-worker/clip/model.ts';
import { ortMatmulCeiling } from '../gpu-worker/clip/onnx/matmul-ceiling.ts';
import { OrtClipEncoders } from '../gpu-worker/clip/ort-encoders.ts';
import { PRESET_NAMES, type PresetName } from '../gpu-worker/clip/presets.ts';
import { runCocoopBench } from '../gpu-worker/cocoop/bench.ts';
import { GraphBuilder } from '../gpu-worker/clip/onnx/graph-builder.ts';
import { checkOrtProviderSetting, createOrtSession } from '../gpu-worker/runtime/ort.ts';

const ROOT = resolve(import.meta.dirname, '..');

/** Which provider a session actually gets here: try CUDA unless ORT_EP says cpu. */
async function providerThatLoads(dir: string): Promise<'cuda' | 'cpu'> {
  const asked = checkOrtProviderSetting();
  if (asked === 'cpu') return 'cpu';
  const g = new GraphBuilder('probe');
  g.output(g.op('Identity', [g.input('x', 'float', [1])]), 'y', 'float', [1]);
  const path = join(dir, 'probe.onnx');
  writeFileSync(path, g.toBytes());
  try {
    const s = await createOrtSession(path, { provider: 'cuda', log: () => {} });
    await s.release();
    return 'cuda';
  } catch (e) {
    if (asked === 'cuda') throw e;
    return 'cpu';
  }
}

function deviceName(provider: 'cuda' | 'cpu'): string {
  if (provider === 'cuda') {
    try {
      return execFileSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], { encoding: 'utf8' }).trim().split('\n')[0];
    } catch {
      return 'CUDA device (nvidia-smi not found)';
    }
  }
  return `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} cores`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      preset: { type: 'string', default: 'vit-b16' },
      classes: { type: 'string', default: '10,100' },
      quick: { type: 'boolean', default: false },
    },
  });
  const preset = values.preset as PresetName;
  if (!PRESET_NAMES.includes(preset)) throw new Error(`--preset must be one of ${PRESET_NAMES.join(', ')}`);
  const classes = values.classes!.split(',').map((c) => Number(c));
  if (classes.some((c) => !Number.isInteger(c) || c < 2)) throw new Error('--classes must be integers ≥ 2, comma-separated');
  const log = (line: string) => process.stderr.write(`bench:gpu: ${line}\n`);
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'bench-gpu-'));
  try {
    const provider = await providerThatLoads(dir);
    log(`execution provider ${provider} (${deviceName(provider)})`);
    log(`writing a random-weight ${preset} model with the CLIP vocabulary…`);
    makeModel({ preset, seed: 1, out: join(dir, 'model'), vocabDir: join(ROOT, 'models/clip-vocab') });
    const model = loadClipModel(join(dir, 'model'));
    const encoders = new OrtClipEncoders(model, { provider, log });
    const t = model.config.text;
    const v = model.config.vision;
    const patches = (v.imageSize / v.patchSize) ** 2 + 1;
    log('measuring the matmul ceiling…');
    const ceiling = await ortMatmulCeiling(
      [
        [patches, v.hiddenSize, v.intermediateSize],
        [4 * patches, v.hiddenSize, v.intermediateSize],
        [1000, t.hiddenSize, t.intermediateSize],
      ],
      values.quick ? 0.05 : 1.5,
      { provider },
    );
    const runs = [];
    try {
      for (const c of classes) {
        log(`${c} classes: inference and training…`);
        const r = await runCocoopBench(model, encoders, { classes: c, images: values.quick ? 2 : 8, naive: false, engines: ['ort'], trainSteps: values.quick ? 1 : 3, log });
        const sPerStep = r.train_s_per_step_by_engine.ort!;
        const work = r.step_work.image_gflop + r.step_work.text_gflop;
        runs.push({
          classes: c,
          train_s_per_step: sPerStep,
          train_gflops: work / sPerStep,
          train_fraction_of_ceiling: work / sPerStep / ceiling.gflops,
          infer_images_per_s: r.optimized.infer_images_per_s,
          step_work: r.step_work,
          peak_rss_mb: r.optimized.peak_rss_mb,
        });
      }
    } finally {
      await encoders.release();
    }
    const out = {
      command: `npm run bench:gpu${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      provider,
      device: deviceName(provider),
      model: `${preset} (random weights, CLIP vocabulary)`,
      node: process.version,
      onnxruntime: ort.env.versions?.common ?? 'unknown',
      ceiling: { matmul_gflops: ceiling.gflops, shape: ceiling.shape },
      runs,
      seconds: (performance.now() - started) / 1000,
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:gpu: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
