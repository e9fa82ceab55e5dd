// A training checkpoint: everything needed to continue a run exactly as if it had not stopped —
// the adapter parameters, the SGD momentum buffers, the next epoch, the random-stream state and the
// options that fix the trajectory. One safetensors file (fp32 tensors; scalars and options in the
// metadata), written atomically, one per finished epoch: `epoch-0003.ckpt.safetensors` = 3 epochs done.
//
// Random state: every random stream of training after initialisation is derived from (seed, epoch)
// (the shuffle of epoch e, the view of image i in epoch e), so the seed and the next epoch are the
// whole RNG state; the checkpoint names the derivation scheme so that a future change is refused.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, SafetensorsError, writeSafetensors, type HostTensor } from '../clip/safetensors.ts';
import type { AdapterMethod, AdapterParams } from './adapter.ts';
import { adapterTensors } from './artifact.ts';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export const CHECKPOINT_FORMAT = 'cocoop-train-checkpoint';
export const CHECKPOINT_VERSION = '1';
/** How the per-epoch random streams are derived from the seed (train.ts, view-features.ts). */
export const RNG_SCHEME = 'derive-seed(seed, epoch[, image])/v1';

/** The training options that decide the trajectory (a resumed run must use the same ones). */
export interface CheckpointOptions {
  method: AdapterMethod;
  epochs: number;
  shots: number;
  lr: number;
  batchSize: number;
  nCtx: number | null; // random init with this many vectors; null = from ctxInit
  ctxInit: string;
  seed: number;
  momentum: number;
  weightDecay: number;
  warmupEpochs: number;
  warmupLr: number;
}

export interface EpochMetrics {
  loss: number; // mean training loss of the epoch
  accuracy: number; // training accuracy of the epoch
}

export interface TrainCheckpoint {
  params: AdapterParams;
  /** SGD momentum buffers in the learner's variable order; [] before the first step. */
  momentum: HostTensor[];
  /** 0-based epoch to run next = number of finished epochs. */
  nextEpoch: number;
  /** Optimizer steps taken so far. */
  steps: number;
  /** Training wall time so far, over all sessions of the run. */
  elapsedS: number;
  rng: { scheme: string; seed: number };
  options: CheckpointOptions;
  modelSha256: string;
  classNames: string[];
  /** sha256 over the training items (relative paths and labels). */
  dataFingerprint: string;
  /** Metrics of the last finished epoch (null before any). */
  lastEpoch: EpochMetrics | null;
}

const NAME_RE = /^epoch-(\d{4,})\.ckpt\.safetensors$/;

export function checkpointPath(dir: string, epochsDone: number): string {
  return join(dir, `epoch-${String(epochsDone).padStart(4, '0')}.ckpt.safetensors`);
}

/** The checkpoint with the most finished epochs in `dir`, or null (also when `dir` does not exist). */
export function latestCheckpoint(dir: string): { path: string; epochsDone: number } | null {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return null;
  }
  let best: { path: string; epochsDone: number } | null = null;
  for (const name of names) {
    const m = NAME_RE.exec(name);
    if (!m) continue;
    const e = Number(m[1]);
    if (!best || e > best.epochsDone) best = { path: join(dir, name), epochsDone: e };
  }
  return best;
}

const MOMENTUM_PREFIX = 'optimizer.momentum.';

function momentumName(i: number): string {
  return `${MOMENTUM_PREFIX}${String(i).padStart(3, '0')}`;
}

/** Writes `state` to `path` atomically (temporary file + fsync + rename). */
export function writeCheckpoint(path: string, state: TrainCheckpoint): void {
  const tensors: Record<string, HostTensor> = { ...adapterTensors(state.params) };
  state.momentum.forEach((t, i) => (tensors[momentumName(i)] = t));
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    method: state.params.method,
    ctx_init: state.params.ctxInit,
    next_epoch: String(state.nextEpoch),
    steps: String(state.steps),
    elapsed_s: JSON.stringify(state.elapsedS),
    momentum_buffers: String(state.momentum.length),
    rng: JSON.stringify(state.rng),
    options: JSON.stringify(state.options),
    model_sha256: state.modelSha256,
    class_names: JSON.stringify(state.classNames),
    data_fingerprint: state.dataFingerprint,
    last_epoch: JSON.stringify(state.lastEpoch),
    created_at: new Date().toISOString(),
  };
  writeSafetensors(path, tensors, metadata);
}

function parseJson(path: string, key: string, text: string | undefined): unknown {
  if (text === undefined) throw new CheckpointError(`${path}: metadata has no "${key}"`);
  try {
    return JSON.parse(text);
  } catch {
    throw new CheckpointError(`${path}: metadata "${key}" is not valid JSON`);
  }
}

function nonNegInt(path: string, key: string, text: string | undefined): number {
  const v = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(v)) {
    throw new CheckpointError(`${path}: metadata "${key}" must be a non-negative integer, got ${JSON.stringify(text ?? null)}`);
  }
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseOptions(path: string, raw: unknown): CheckpointOptions {
  const bad = (msg: string): never => {
    throw new CheckpointError(`${path}: options ${msg}`);
  };
  if (!isObject(raw)) return bad('must be an object');
  const num = (k: string, test: (x: number) => boolean): number => {
    const v = raw[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || !test(v)) bad(`"${k}" is invalid (${JSON.stringify(v ?? null)})`);
    return v as number;
  };
  const posInt = (x: number) => Number.isInteger(x) && x >= 1;
  const method = raw.method;
  if (method !== 'cocoop' && method !== 'coop') bad(`"method" must be "cocoop" or "coop", got ${JSON.stringify(method ?? null)}`);
  if (typeof raw.ctxInit !== 'string') bad('"ctxInit" must be a string');
  if (raw.nCtx !== null && !(typeof raw.nCtx === 'number' && posInt(raw.nCtx))) bad(`"nCtx" must be null or a positive integer`);
  return {
    method: method as AdapterMethod,
    epochs: num('epochs', posInt),
    shots: num('shots', posInt),
    lr: num('lr', (x) => x > 0),
    batchSize: num('batchSize', posInt),
    nCtx: raw.nCtx as number | null,
    ctxInit: raw.ctxInit as string,
    seed: num('seed', Number.isInteger),
    momentum: num('momentum', (x) => x >= 0),
    weightDecay: num('weightDecay', (x) => x >= 0),
    warmupEpochs: num('warmupEpochs', (x) => Number.isInteger(x) && x >= 0),
    warmupLr: num('warmupLr', (x) => x >= 0),
  };
}

function shapeIs(t: HostTensor, shape: number[]): boolean {
  return t.shape.length === shape.length && t.shape.every((x, i) => x === shape[i]);
}

/** Reads and validates a checkpoint; any problem is a one-line CheckpointError naming the file. */
export function readCheckpoint(path: string): TrainCheckpoint {
  let file;
  try {
    file = readSafetensors(path);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new CheckpointError(`${e.message} (not a valid training checkpoint)`);
    throw e;
  }
  const m = file.metadata;
  if (m.format !== CHECKPOINT_FORMAT) throw new CheckpointError(`${path}: not a training checkpoint (metadata format is ${JSON.stringify(m.format ?? null)})`);
  if (m.version !== CHECKPOINT_VERSION) throw new CheckpointError(`${path}: checkpoint version ${m.version} is not supported (expected ${CHECKPOINT_VERSION})`);
  for (const [name, t] of file.tensors) {
    if (file.dtypes.get(name) !== 'F32') throw new CheckpointError(`${path}: tensor "${name}" is ${file.dtypes.get(name)}, checkpoints are F32`);
    for (const v of t.data) if (!Number.isFinite(v)) throw new CheckpointError(`${path}: tensor "${name}" contains NaN or Inf`);
  }

  const options = parseOptions(path, parseJson(path, 'options', m.options));
  if (m.method !== options.method) throw new CheckpointError(`${path}: metadata method ${JSON.stringify(m.method)} differs from options.method "${options.method}"`);

  // Adapter parameters: shapes consistent with each other.
  const ctx = file.tensors.get('ctx');
  if (!ctx || ctx.shape.length !== 2 || ctx.shape[0] < 1 || ctx.shape[1] < 1) throw new CheckpointError(`${path}: no valid "ctx" tensor [M, D]`);
  const [nCtx, d] = ctx.shape;
  if (options.nCtx !== null && options.nCtx !== nCtx) throw new CheckpointError(`${path}: options.nCtx ${options.nCtx} but ctx has ${nCtx} rows`);
  const params: AdapterParams = { method: options.method, ctx, ctxInit: m.ctx_init ?? '' };
  const adapterNames = new Set(['ctx']);
  if (options.method === 'cocoop') {
    const get = (name: string): HostTensor => {
      const t = file.tensors.get(name);
      if (!t) throw new CheckpointError(`${path}: CoCoOp checkpoint has no tensor "${name}"`);
      adapterNames.add(name);
      return t;
    };
    const w1 = get('meta_net.linear1.weight');
    const b1 = get('meta_net.linear1.bias');
    const w2 = get('meta_net.linear2.weight');
    const b2 = get('meta_net.linear2.bias');
    const hidden = w1.shape[0];
    const vis = w1.shape[1];
    if (w1.shape.length !== 2 || !shapeIs(b1, [hidden]) || !shapeIs(w2, [d, hidden]) || !shapeIs(b2, [d])) {
      throw new CheckpointError(
        `${path}: meta-net shapes [${w1.shape}], [${b1.shape}], [${w2.shape}], [${b2.shape}] do not fit each other and ctx [${ctx.shape}]`,
      );
    }
    if (hidden !== Math.floor(vis / 16)) throw new CheckpointError(`${path}: meta-net hidden width ${hidden} is not ${vis}/16`);
    params.metaNet = { linear1: { weight: w1, bias: b1 }, linear2: { weight: w2, bias: b2 } };
  }

  // Momentum buffers: exactly momentum_buffers of them, named 000…, nothing else in the file.
  const nMomentum = nonNegInt(path, 'momentum_buffers', m.momentum_buffers);
  const momentum: HostTensor[] = [];
  for (let i = 0; i < nMomentum; i++) {
    const t = file.tensors.get(momentumName(i));
    if (!t) throw new CheckpointError(`${path}: missing momentum buffer "${momentumName(i)}"`);
    momentum.push(t);
  }
  const paramCount = [...adapterNames].reduce((a, n) => a + file.tensors.get(n)!.data.length, 0);
  const momCount = momentum.reduce((a, t) => a + t.data.length, 0);
  if (nMomentum !== 0 && momCount !== paramCount) {
    throw new CheckpointError(`${path}: momentum buffers hold ${momCount} values for ${paramCount} parameters`);
  }
  for (const name of file.tensors.keys()) {
    if (!adapterNames.has(name) && !(name.startsWith(MOMENTUM_PREFIX) && Number(name.slice(MOMENTUM_PREFIX.length)) < nMomentum)) {
      throw new CheckpointError(`${path}: unexpected tensor "${name}"`);
    }
  }

  const nextEpoch = nonNegInt(path, 'next_epoch', m.next_epoch);
  if (nextEpoch > options.epochs) throw new CheckpointError(`${path}: next epoch ${nextEpoch} is beyond the run's ${options.epochs} epochs`);
  const steps = nonNegInt(path, 'steps', m.steps);
  if ((steps === 0) !== (nMomentum === 0) && options.momentum !== 0) {
    throw new CheckpointError(`${path}: ${steps} steps taken but ${nMomentum} momentum buffers`);
  }
  const elapsedS = parseJson(path, 'elapsed_s', m.elapsed_s);
  if (typeof elapsedS !== 'number' || !(elapsedS >= 0)) throw new CheckpointError(`${path}: metadata "elapsed_s" must be a number ≥ 0`);
  const rng = parseJson(path, 'rng', m.rng);
  if (!isObject(rng) || typeof rng.scheme !== 'string' || typeof rng.seed !== 'number') {
    throw new CheckpointError(`${path}: metadata "rng" must be {"scheme", "seed"}`);
  }
  if (rng.scheme !== RNG_SCHEME) throw new CheckpointError(`${path}: random-stream scheme ${JSON.stringify(rng.scheme)} is not this version's (${RNG_SCHEME})`);
  if (rng.seed !== options.seed) throw new CheckpointError(`${path}: rng seed ${rng.seed} differs from options.seed ${options.seed}`);
  const classNames = parseJson(path, 'class_names', m.class_names);
  if (!Array.isArray(classNames) || classNames.length === 0 || classNames.some((c) => typeof c !== 'string')) {
    throw new CheckpointError(`${path}: metadata "class_names" must be a non-empty JSON array of strings`);
  }
  if (typeof m.model_sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.model_sha256)) throw new CheckpointError(`${path}: metadata "model_sha256" is not a sha256`);
  if (typeof m.data_fingerprint !== 'string' || m.data_fingerprint === '') throw new CheckpointError(`${path}: metadata "data_fingerprint" is missing`);
  const last = parseJson(path, 'last_epoch', m.last_epoch);
  let lastEpoch: EpochMetrics | null = null;
  if (last !== null) {
    if (!isObject(last) || typeof last.loss !== 'number' || typeof last.accuracy !== 'number') {
      throw new CheckpointError(`${path}: metadata "last_epoch" must be null or {"loss", "accuracy"}`);
    }
    lastEpoch = { loss: last.loss, accuracy: last.accuracy };
  }
  if ((lastEpoch === null) !== (nextEpoch === 0)) throw new CheckpointError(`${path}: last_epoch metrics do not fit next_epoch ${nextEpoch}`);

  return {
    params,
    momentum,
    nextEpoch,
    steps,
    elapsedS,
    rng: { scheme: rng.scheme, seed: rng.seed },
    options,
    modelSha256: m.model_sha256,
    classNames: classNames as string[],
    dataFingerprint: m.data_fingerprint,
    lastEpoch,
  };
}

/**
 * Refuses to resume `ckpt` in a run that differs from it (another model, label set, data or any
 * option that changes the trajectory), naming the first difference.
 */
export function checkResumable(
  path: string,
  ckpt: TrainCheckpoint,
  run: { options: CheckpointOptions; modelSha256: string; classNames: string[]; dataFingerprint: string },
): void {
  const fail = (what: string): never => {
    throw new CheckpointError(`${path}: cannot resume: ${what}; use the same settings or another checkpoint directory`);
  };
  if (ckpt.modelSha256 !== run.modelSha256) fail(`it was trained on another base model (sha256 ${ckpt.modelSha256.slice(0, 12)}…)`);
  if (JSON.stringify(ckpt.classNames) !== JSON.stringify(run.classNames)) fail(`its classes ${JSON.stringify(ckpt.classNames)} differ from the data's`);
  if (ckpt.dataFingerprint !== run.dataFingerprint) fail('the training images differ from the checkpoint\'s');
  for (const key of Object.keys(run.options) as (keyof CheckpointOptions)[]) {
    if (!Object.is(ckpt.options[key], run.options[key])) {
      fail(`${key} was ${JSON.stringify(ckpt.options[key])}, now ${JSON.stringify(run.options[key])}`);
    }
  }
}
