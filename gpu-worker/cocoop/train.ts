// Few-shot training of a CoCoOp / CoOp adapter on a frozen CLIP (the official recipe, docs/model.md):
// SGD (momentum 0.9, weight decay 5e-4), lr 0.002 with one constant warm-up epoch at 1e-5 then cosine,
// batch 1, 10 epochs, random-resized-crop + flip views, fp32 parameters and optimizer state.
//
// Per epoch: a seeded shuffle of the items, the image features of this epoch's views (computed
// once, batched, outside autodiff: view-features.ts), then one SGD step per batch of B items (the last,
// smaller batch is kept; a training set smaller than B is one batch). Every random stream after the
// initialisation is derived from (seed, epoch), so a run resumed from the checkpoint of epoch k
// continues exactly as the uninterrupted run (same seed, same backend → the same final parameters).
//
// The step runs on a training engine (train-engines.ts): `ort` (default: the text tower and its VJP on
// ONNX Runtime) or `tfjs` (TF.js autodiff; the backend is the caller's choice via initTfBackend).
// For checking one implementation against another: `initAdapter` starts from given tensors, `augment:
// false` trains on the evaluation view of every image, `shuffle: false` keeps the folder order.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ClipModel } from '../clip/model.ts';
import type { OrtClipEncoders, OrtEncoderOptions } from '../clip/ort-encoders.ts';
import type { TextTrainingRunner } from './ort-text-training.ts';
import { SeededRandom } from '../clip/random.ts';
import type { HostTensor } from '../clip/safetensors.ts';
import { initMetaNet, type AdapterMethod, type AdapterParams } from './adapter.ts';
import {
  checkpointPath,
  checkResumable,
  latestCheckpoint,
  readCheckpoint,
  RNG_SCHEME,
  writeCheckpoint,
  type CheckpointOptions,
  type EpochMetrics,
} from './checkpoint.ts';
import type { ImageFolderDataset } from './dataset.ts';
import { drawShots } from './sampling.ts';
import { learningRate } from './lr-schedule.ts';
import { classPrompts, ctxFromPhrase } from './prompts.ts';
import { createTrainEngine, DEFAULT_TRAIN_ENGINE, parseTrainEngine, type TrainEngine, type TrainEngineName } from './train-engines.ts';
import { deriveSeed, throwIfAborted, ViewFeatures, type PixelEncoder } from './view-features.ts';

export { AbortError } from './view-features.ts';

/** The loss or the parameters became NaN or Inf: the run cannot continue (a lower learning rate may help). */
export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
}

export interface TrainOptions {
  method: AdapterMethod;
  epochs: number; // official 10
  shots: number; // official 16 (images per class, drawn at random with `seed`: sampling.ts drawShots)
  /** Where the steps run (default `ort`). */
  engine?: TrainEngineName;
  /** Start from these tensors instead of the initialisation (method and shapes must fit the model). */
  initAdapter?: AdapterParams;
  /** false: every training view is the evaluation transform (resize + centre crop), every epoch. */
  augment?: boolean;
  /** false: images in folder order every epoch (classes sorted by name, files by name), no shuffle. */
  shuffle?: boolean;
  /** ONNX Runtime settings of the ort engine's text graphs (provider, threads). */
  ort?: OrtEncoderOptions;
  /** Replaces the ort engine's text runner (tests that count or interrupt its calls). */
  textRunner?: TextTrainingRunner;
  lr: number; // official 0.002
  batchSize: number; // official 1
  /** Random init N(0, 0.02²) with this many context vectors (ctxInit is then ignored). */
  nCtx?: number;
  /** Phrase the context is initialised from (M = its token count); official "a photo of a". */
  ctxInit: string;
  seed: number; // official 1
  momentum?: number; // 0.9
  weightDecay?: number; // 5e-4
  warmupEpochs?: number; // 1
  warmupLr?: number; // 1e-5
  /** A checkpoint after every epoch goes here (epoch-NNNN.ckpt.safetensors). */
  checkpointDir?: string;
  /** Continue from the latest checkpoint in checkpointDir (a fresh start when there is none). */
  resume?: boolean;
  /** On-disk cache of view features; default `<checkpointDir>/view-features` when checkpointDir is set. */
  viewCacheDir?: string;
  /** RandomResizedCrop area range of the training views (default: the official (0.08, 1)). */
  cropScale?: [number, number];
  /** Images per image-encoder call when computing view features (default 16). */
  viewBatchSize?: number;
  /**
   * View features of an earlier call in this process over the same images, seed and model: its
   * in-memory features (and decoded images) are reused instead of recomputed, and kept afterwards.
   */
  viewFeatures?: ViewFeatures;
  /**
   * Called after every epoch with the parameters it ended with; the accuracy it returns (on held-out images)
   * is that epoch's `valAccuracy` (progress of its last step, and the result's of the last epoch).
   */
  validate?: (params: AdapterParams) => Promise<number>;
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
  /** Progress lines; default stderr. */
  log?: (line: string) => void;
}

export const TRAIN_DEFAULTS = {
  method: 'cocoop' as AdapterMethod,
  epochs: 10,
  shots: 16,
  lr: 0.002,
  batchSize: 1,
  ctxInit: 'a photo of a',
  seed: 1,
  momentum: 0.9,
  weightDecay: 5e-4,
  warmupEpochs: 1,
  warmupLr: 1e-5,
};

export interface TrainProgress {
  epoch: number; // 1-based
  epochs: number;
  step: number; // 1-based, within the epoch
  stepsPerEpoch: number;
  loss: number; // mean loss over this epoch's steps so far
  accuracy: number; // running train accuracy this epoch
  lr: number;
  elapsedS: number; // training time so far (all sessions of a resumed run)
  etaS: number;
  /** Held-out accuracy after this epoch (the epoch's last step, when TrainOptions.validate is given). */
  valAccuracy?: number;
}

export interface TrainResult {
  params: AdapterParams;
  classNames: string[];
  trainAccuracy: number; // of the last epoch
  /** Held-out accuracy after the last epoch trained in this session (TrainOptions.validate). */
  valAccuracy?: number;
  finalLoss: number; // mean loss of the last epoch
  seconds: number; // training time over all sessions of the run
  steps: number; // optimizer steps over all sessions
  epochs: number;
  /** The engine the steps ran on, e.g. "ort (onnxruntime)". */
  engine: string;
}

/** The image encoder training needs: OrtClipEncoders (or anything with its encodePixels). */
export type TrainEncoders = OrtClipEncoders | PixelEncoder;

const SHUFFLE_STREAM = 0x53485546; // 'SHUF'

/** The item order of 0-based epoch `epoch`: a Fisher–Yates shuffle seeded from (seed, epoch). */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  const rng = new SeededRandom(deriveSeed(SHUFFLE_STREAM, seed, epoch));
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(rng.uniform() * (i + 1)));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** "1m20s", "45s", "2h03m". */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatProgress(p: TrainProgress): string {
  const lr = p.lr >= 1e-4 && p.lr < 1e4 ? p.lr.toFixed(5) : p.lr.toExponential(2);
  const val = p.valAccuracy !== undefined ? ` val ${p.valAccuracy.toFixed(2)}` : '';
  return `epoch ${p.epoch}/${p.epochs} step ${p.step}/${p.stepsPerEpoch} loss ${p.loss.toFixed(3)} acc ${p.accuracy.toFixed(2)}${val} lr ${lr} eta ${formatDuration(p.etaS)}`;
}

function checkOptions(o: TrainOptions): CheckpointOptions {
  const bad = (msg: string): never => {
    throw new Error(`train: ${msg}`);
  };
  const posInt = (name: string, v: number) => {
    if (!(Number.isInteger(v) && v >= 1)) bad(`${name} must be a positive integer, got ${v}`);
  };
  if (o.method !== 'cocoop' && o.method !== 'coop') bad(`method must be "cocoop" or "coop", got ${JSON.stringify(o.method)}`);
  posInt('epochs', o.epochs);
  posInt('shots', o.shots);
  posInt('batchSize', o.batchSize);
  if (o.nCtx !== undefined) posInt('nCtx', o.nCtx);
  if (!(Number.isFinite(o.lr) && o.lr > 0)) bad(`lr must be a positive number, got ${o.lr}`);
  if (!Number.isSafeInteger(o.seed)) bad(`seed must be an integer, got ${o.seed}`);
  const momentum = o.momentum ?? TRAIN_DEFAULTS.momentum;
  const weightDecay = o.weightDecay ?? TRAIN_DEFAULTS.weightDecay;
  const warmupEpochs = o.warmupEpochs ?? TRAIN_DEFAULTS.warmupEpochs;
  const warmupLr = o.warmupLr ?? TRAIN_DEFAULTS.warmupLr;
  if (!(Number.isFinite(momentum) && momentum >= 0)) bad(`momentum must be ≥ 0, got ${momentum}`);
  if (!(Number.isFinite(weightDecay) && weightDecay >= 0)) bad(`weightDecay must be ≥ 0, got ${weightDecay}`);
  if (!(Number.isInteger(warmupEpochs) && warmupEpochs >= 0)) bad(`warmupEpochs must be an integer ≥ 0, got ${warmupEpochs}`);
  if (!(Number.isFinite(warmupLr) && warmupLr >= 0)) bad(`warmupLr must be ≥ 0, got ${warmupLr}`);
  if (o.nCtx === undefined && o.ctxInit.trim() === '') bad('ctxInit is empty: give a phrase, or nCtx for a random initialisation');
  if (o.resume && !o.checkpointDir) bad('resume needs a checkpointDir');
  if (o.engine !== undefined) parseTrainEngine(o.engine, 'train: engine');
  return {
    method: o.method,
    epochs: o.epochs,
    shots: o.shots,
    lr: o.lr,
    batchSize: o.batchSize,
    nCtx: o.nCtx ?? null,
    ctxInit: o.nCtx === undefined ? o.ctxInit : '',
    seed: o.seed,
    momentum,
    weightDecay,
    warmupEpochs,
    warmupLr,
  };
}

/** sha256 over the training items (paths relative to the root, labels) and the class names. */
export function dataFingerprint(ds: ImageFolderDataset): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(ds.classNames));
  for (const it of ds.items) h.update(`\n${it.label}\t${relative(ds.root, it.path)}`);
  return h.digest('hex');
}

/** Initial adapter parameters: ctx from the phrase or N(0, 0.02²), then the meta-net (CoCoOp), one seeded stream. */
export function initialParams(model: ClipModel, o: CheckpointOptions): AdapterParams {
  const rng = new SeededRandom(o.seed);
  const d = model.config.text.hiddenSize;
  const table = model.weights.text.tokenEmbedding;
  const ctx: HostTensor =
    o.nCtx !== null
      ? { shape: [o.nCtx, d], data: rng.fillNormal(new Float32Array(o.nCtx * d), 0.02) }
      : ctxFromPhrase(model.tokenizer, table, o.ctxInit);
  const params: AdapterParams = { method: o.method, ctx, ctxInit: o.nCtx !== null ? '' : o.ctxInit };
  if (o.method === 'cocoop') params.metaNet = initMetaNet(rng, model.config.projectionDim, d);
  return params;
}

/** A copy of an initial adapter given by the caller, checked against the method and the model's shapes. */
export function checkedInitAdapter(model: ClipModel, method: string, a: AdapterParams): AdapterParams {
  const d = model.config.text.hiddenSize;
  const p = model.config.projectionDim;
  if (a.method !== method) throw new Error(`train: the initial adapter is ${a.method}, the run trains ${method}`);
  const [m, width] = a.ctx.shape;
  if (a.ctx.shape.length !== 2 || width !== d || !(m >= 1) || a.ctx.data.length !== m * d) {
    throw new Error(`train: the initial adapter's ctx has shape [${a.ctx.shape}], this model needs [M, ${d}]`);
  }
  if (method === 'cocoop') {
    const mn = a.metaNet;
    const h = mn?.linear1.weight.shape[0] ?? 0;
    const ok =
      mn &&
      h >= 1 &&
      mn.linear1.weight.shape.join() === `${h},${p}` &&
      mn.linear1.bias.shape.join() === `${h}` &&
      mn.linear2.weight.shape.join() === `${d},${h}` &&
      mn.linear2.bias.shape.join() === `${d}`;
    if (!ok) throw new Error(`train: the initial adapter's meta-net does not fit this model (needs linear1 [H, ${p}], linear2 [${d}, H])`);
  }
  const t = (x: HostTensor): HostTensor => ({ shape: [...x.shape], data: x.data.slice() });
  return {
    method: a.method,
    ctx: t(a.ctx),
    ctxInit: a.ctxInit,
    metaNet: a.metaNet && { linear1: { weight: t(a.metaNet.linear1.weight), bias: t(a.metaNet.linear1.bias) }, linear2: { weight: t(a.metaNet.linear2.weight), bias: t(a.metaNet.linear2.bias) } },
  };
}

function allFinite(p: AdapterParams): boolean {
  const ts = [p.ctx, ...(p.metaNet ? [p.metaNet.linear1.weight, p.metaNet.linear1.bias, p.metaNet.linear2.weight, p.metaNet.linear2.bias] : [])];
  return ts.every((t) => t.data.every(Number.isFinite));
}

export async function trainAdapter(model: ClipModel, encoders: TrainEncoders, data: ImageFolderDataset, opts: TrainOptions): Promise<TrainResult> {
  const options = checkOptions(opts);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { signal } = opts;
  throwIfAborted(signal);
  const sessionStart = performance.now();

  const ds = drawShots(data, options.shots, options.seed);
  const items = ds.items;
  const n = items.length;
  if (n === 0) throw new Error(`train: ${data.root} has no training images`);
  const p = model.config.projectionDim;
  const modelSha256 = model.weightsSha256();
  const fingerprint = dataFingerprint(ds);
  const B = options.batchSize;
  const stepsPerEpoch = Math.ceil(n / B);
  const E = options.epochs;

  // Start: fresh (or from the given adapter), or the latest checkpoint.
  let params = opts.initAdapter ? checkedInitAdapter(model, options.method, opts.initAdapter) : initialParams(model, options);
  let momentum: Float32Array[] | null = null;
  let startEpoch = 0;
  let steps = 0;
  let elapsedBefore = 0;
  let last: EpochMetrics | null = null;
  let valAccuracy: number | undefined;
  if (opts.checkpointDir) mkdirSync(opts.checkpointDir, { recursive: true });
  if (opts.resume && opts.checkpointDir) {
    const latest = latestCheckpoint(opts.checkpointDir);
    if (latest) {
      const ckpt = readCheckpoint(latest.path);
      checkResumable(latest.path, ckpt, { options, modelSha256, classNames: ds.classNames, dataFingerprint: fingerprint });
      params = ckpt.params;
      momentum = ckpt.momentum.length ? ckpt.momentum.map((t) => t.data) : null;
      startEpoch = ckpt.nextEpoch;
      steps = ckpt.steps;
      elapsedBefore = ckpt.elapsedS;
      last = ckpt.lastEpoch;
      log(`train: resuming from ${latest.path} (${startEpoch}/${E} epochs done)`);
    } else {
      log(`train: no checkpoint in ${opts.checkpointDir}; starting from epoch 1`);
    }
  }

  const nCtx = params.ctx.shape[0];
  const prompts = classPrompts(model.tokenizer, model.weights.text.tokenEmbedding, ds.classNames, nCtx);
  const paths = items.map((it) => it.path);
  const viewOpts = {
    modelSha256,
    preprocess: model.preprocess,
    dim: p,
    seed: options.seed,
    batchSize: opts.viewBatchSize,
    cropScale: opts.cropScale,
    augment: opts.augment,
    cacheDir: opts.viewCacheDir ?? (opts.checkpointDir ? join(opts.checkpointDir, 'view-features') : undefined),
  };
  if (opts.viewFeatures && !opts.viewFeatures.matches(paths, viewOpts)) {
    throw new Error('train: the given viewFeatures were made for other images, seed or model');
  }
  const views = opts.viewFeatures ?? new ViewFeatures(encoders, paths, viewOpts);
  let engine: TrainEngine | null = null;

  try {
    engine = createTrainEngine(
      opts.engine ?? DEFAULT_TRAIN_ENGINE,
      model,
      prompts,
      params,
      { momentum: options.momentum, weightDecay: options.weightDecay },
      { ort: { ...opts.ort, log }, runner: opts.textRunner },
    );
    if (momentum) engine.setMomentum(momentum);
    if (startEpoch < E) {
      log(
        `train: ${options.method}, ${n} images, ${ds.classNames.length} classes, ${stepsPerEpoch} steps/epoch × ${E} epochs ` +
          `(batch ${B}, lr ${options.lr}, ${nCtx} context vectors), engine ${engine.description}`,
      );
    }

    let stepTime = 0; // this session: seconds in optimizer steps
    let stepCount = 0;
    let featTime = 0; // this session: seconds computing view features
    let featEpochs = 0;
    let lastLog = -Infinity;

    for (let epoch = startEpoch; epoch < E; epoch++) {
      throwIfAborted(signal);
      const lr = learningRate(epoch, { baseLr: options.lr, maxEpochs: E, warmupEpochs: options.warmupEpochs, warmupLr: options.warmupLr });
      const order = opts.shuffle === false ? Array.from({ length: n }, (_, i) => i) : epochOrder(n, options.seed, epoch);

      const f0 = performance.now();
      const before = { ...views.stats };
      const epochFeatures = await views.epoch(epoch, signal);
      const fs = (performance.now() - f0) / 1000;
      featTime += fs;
      featEpochs++;
      const computed = views.stats.computed - before.computed;
      const fromDisk = views.stats.fromDisk - before.fromDisk;
      if (fs > 1) log(`epoch ${epoch + 1}/${E}: features of ${n} training views in ${fs.toFixed(1)} s (${computed} computed, ${fromDisk} from cache)`);

      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      for (let s = 0; s < stepsPerEpoch; s++) {
        throwIfAborted(signal);
        const t0 = performance.now();
        const idx = order.slice(s * B, (s + 1) * B);
        const b = idx.length;
        const featsHost = new Float32Array(b * p);
        idx.forEach((i, k) => featsHost.set(epochFeatures.subarray(i * p, (i + 1) * p), k * p));
        const labels = idx.map((i) => items[i].label);
        const { loss: lossValue, logits: logitsHost } = await engine.compute(featsHost, labels, signal);
        if (!Number.isFinite(lossValue)) {
          throw new TrainingDivergedError(
            `training diverged: loss is ${Number.isNaN(lossValue) ? 'NaN' : lossValue > 0 ? 'Inf' : '-Inf'} at epoch ${epoch + 1} step ${s + 1}; try a lower --lr`,
          );
        }
        engine.apply(lr);
        steps++;

        // Running accuracy (argmax; the first maximum on ties, as torch.argmax).
        const c = prompts.classNames.length;
        for (let k = 0; k < b; k++) {
          let best = 0;
          for (let j = 1; j < c; j++) if (logitsHost[k * c + j] > logitsHost[k * c + best]) best = j;
          if (best === labels[k]) correct++;
        }
        seen += b;
        lossSum += lossValue * b;

        stepTime += (performance.now() - t0) / 1000;
        stepCount++;
        const remainingSteps = (E - epoch - 1) * stepsPerEpoch + (stepsPerEpoch - s - 1);
        const etaS = remainingSteps * (stepTime / stepCount) + (E - epoch - 1) * (featTime / featEpochs);
        const progress: TrainProgress = {
          epoch: epoch + 1,
          epochs: E,
          step: s + 1,
          stepsPerEpoch,
          loss: lossSum / seen,
          accuracy: correct / seen,
          lr,
          elapsedS: elapsedBefore + (performance.now() - sessionStart) / 1000,
          etaS,
        };
        if (s === stepsPerEpoch - 1 && opts.validate) {
          valAccuracy = await opts.validate(engine.params());
          progress.valAccuracy = valAccuracy;
        }
        opts.onProgress?.(progress);
        const now = performance.now();
        if (s === stepsPerEpoch - 1 || now - lastLog >= 2000) {
          log(formatProgress(progress));
          lastLog = now;
        }
        // One turn of the event loop per step: a TF.js step runs synchronously, and the caller's timers
        // (the trainer's heartbeats, checkpoint uploads, cancel checks) must not wait for the epoch's end.
        await new Promise<void>((ok) => setImmediate(ok));
      }

      last = { loss: lossSum / seen, accuracy: correct / seen };
      params = engine.params();
      if (!allFinite(params)) throw new TrainingDivergedError(`training diverged: parameters are NaN or Inf after epoch ${epoch + 1}; try a lower --lr`);
      if (opts.checkpointDir) {
        const shapes = engine.shapes;
        const state = engine.momentum().map((data, i): HostTensor => ({ shape: [...shapes[i]], data }));
        const path = checkpointPath(opts.checkpointDir, epoch + 1);
        writeCheckpoint(path, {
          params,
          momentum: state,
          nextEpoch: epoch + 1,
          steps,
          elapsedS: elapsedBefore + (performance.now() - sessionStart) / 1000,
          rng: { scheme: RNG_SCHEME, seed: options.seed },
          options,
          modelSha256,
          classNames: ds.classNames,
          dataFingerprint: fingerprint,
          lastEpoch: last,
        });
      }
    }

    params = engine.params();
    return {
      params,
      classNames: [...ds.classNames],
      trainAccuracy: last?.accuracy ?? 0,
      ...(valAccuracy !== undefined ? { valAccuracy } : {}),
      finalLoss: last?.loss ?? NaN,
      seconds: elapsedBefore + (performance.now() - sessionStart) / 1000,
      steps,
      epochs: E,
      engine: engine.description,
    };
  } finally {
    await engine?.dispose();
    if (!opts.viewFeatures) views.clear();
  }
}
