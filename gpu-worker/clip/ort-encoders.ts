// CLIP text and image towers on ONNX Runtime: ONNX graphs built from the model's safetensors
// (cached on disk, keyed by the weights' hash), sessions created on first use.
import { accessSync, constants, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { createOrtSession, runTextGraph, runVisionGraph } from '../runtime/ort.ts';
import type { ClipModel } from './model.ts';
import { getOrBuildGraph, type GraphKind } from './onnx/graph-cache.ts';
import { buildTextGraph } from './onnx/text-graph.ts';
import { buildVisionGraph } from './onnx/vision-graph.ts';
import { embedTokenIds } from './prompt-embeddings.ts';

/** Where built ONNX graphs live: $COCOOP_CACHE_DIR, else next to the model, else ~/.cache/cocoop. */
export function graphCacheDir(modelDir: string): string {
  if (process.env.COCOOP_CACHE_DIR) return process.env.COCOOP_CACHE_DIR;
  try {
    accessSync(modelDir, constants.W_OK);
    return join(modelDir, '.cocoop-cache');
  } catch {
    return join(homedir(), '.cache', 'cocoop');
  }
}

/**
 * An ORT session for one of a model's graphs: built from the weights on first use (logged, with its
 * time and size), cached on disk by the weights' hash, then loaded.
 */
export function openGraphSession(
  model: ClipModel,
  kind: GraphKind,
  opts: OrtEncoderOptions,
  buildGraph: () => Uint8Array,
): Promise<ort.InferenceSession> {
  const cacheDir = graphCacheDir(model.dir);
  mkdirSync(cacheDir, { recursive: true });
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const build = () => {
    const t0 = performance.now();
    log(`onnx: building the ${kind} graph for ${model.dir} (first use; cached in ${cacheDir})`);
    const bytes = buildGraph();
    log(`onnx: ${kind} graph built in ${((performance.now() - t0) / 1000).toFixed(1)} s (${(bytes.length / 2 ** 20).toFixed(1)} MiB)`);
    return bytes;
  };
  return createOrtSession(getOrBuildGraph(kind, model.weightsSha256(), cacheDir, build), opts);
}

export interface OrtEncoderOptions {
  threads?: number;
  provider?: 'auto' | 'cpu' | 'cuda';
  /** Progress lines (graph builds). Default: stderr. */
  log?: (line: string) => void;
}

export class OrtClipEncoders {
  private text?: Promise<ort.InferenceSession>;
  private vision?: Promise<ort.InferenceSession>;

  constructor(
    readonly model: ClipModel,
    private readonly opts: OrtEncoderOptions = {},
  ) {}

  private session(kind: 'text' | 'vision'): Promise<ort.InferenceSession> {
    const { weights, config } = this.model;
    return openGraphSession(this.model, kind, this.opts, () =>
      kind === 'text' ? buildTextGraph(weights.text, config.text) : buildVisionGraph(weights.vision, config.vision),
    );
  }

  textSession(): Promise<ort.InferenceSession> {
    return (this.text ??= this.session('text'));
  }

  visionSession(): Promise<ort.InferenceSession> {
    return (this.vision ??= this.session('vision'));
  }

  /** Prompt embeddings [n, length, D] + EOT indices → projected text features [n, P]. */
  async encodeEmbeddings(embeds: Float32Array, n: number, length: number, eot: number[]): Promise<Float32Array> {
    return runTextGraph(await this.textSession(), embeds, n, length, this.model.config.text.hiddenSize, eot);
  }

  /** Token id prompts (SOT … EOT) → projected, un-normalised text features [n, P]. */
  async encodeTokenIds(ids: number[][]): Promise<Float32Array> {
    const batch = embedTokenIds(this.model.weights.text.tokenEmbedding, ids, this.model.tokenizer.eotId);
    return this.encodeEmbeddings(batch.embeds, batch.n, batch.length, batch.eot);
  }

  /** Preprocessed pixels [n, C, S, S] → projected, un-normalised image features [n, P]. */
  async encodePixels(pixels: Float32Array, n: number): Promise<Float32Array> {
    const v = this.model.config.vision;
    return runVisionGraph(await this.visionSession(), pixels, n, v.numChannels, v.imageSize);
  }

  async release(): Promise<void> {
    for (const s of [this.text, this.vision]) if (s) await (await s).release();
  }
}

/** Splits a flat [n, P] buffer into n plain arrays (for JSON output). */
export function rows(flat: Float32Array, n: number): number[][] {
  const p = flat.length / n;
  return Array.from({ length: n }, (_, i) => Array.from(flat.subarray(i * p, (i + 1) * p)));
}
