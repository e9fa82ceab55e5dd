// CoCoOp / CoOp / zero-shot CLIP inference on ONNX Runtime, with the exact speed-ups of docs/model.md:
//   1. all images × classes of a call in few batched text-tower runs (the official code loops over images);
//   2. prompts truncated to their own length (no padding to 77); suffixes grouped by length so that
//      short class names are not padded to the longest one;
//   3. CoCoOp: the prefix [SOT][v_1+π(x)]…[v_M+π(x)] of each image runs once through the prefix graph,
//      every class suffix attends to its per-layer keys/values (text-prefix-graphs.ts);
//   4. CoOp and zero-shot: text features once per (adapter, label set), kept in an LRU cache.
// `naiveOfficialLogits` is the official-style computation (per image, C prompts padded to 77 tokens,
// nothing shared or cached), kept as the equality anchor for tests and as the benchmark baseline.
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import type { ClipModel } from '../clip/model.ts';
import type { GraphKind } from '../clip/onnx/graph-cache.ts';
import { buildTextPrefixGraph, buildTextSuffixGraph } from '../clip/onnx/text-prefix-graphs.ts';
import { openGraphSession, type OrtClipEncoders, type OrtEncoderOptions } from '../clip/ort-encoders.ts';
import { embedTokenIds } from '../clip/prompt-embeddings.ts';
import type { AdapterParams, MetaNet } from './adapter.ts';
import { assemblePrompts, classPrompts, CONTEXT_LENGTH, validateLabels, zeroShotTexts, type ClassPrompts } from './prompts.ts';

// ---------------------------------------------------------------------------------------------
// Host helpers

/** Rows of a flat [n, p] buffer scaled to unit L2 norm (a new array). */
export function l2NormalizeRows(x: Float32Array, n: number, p: number): Float32Array {
  if (x.length !== n * p) throw new Error(`l2NormalizeRows: ${x.length} values for [${n}, ${p}]`);
  const out = new Float32Array(n * p);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < p; j++) s += x[i * p + j] * x[i * p + j];
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < p; j++) out[i * p + j] = x[i * p + j] * inv;
  }
  return out;
}

/** Meta-net π(x) = linear2(ReLU(linear1(x))) for one (L2-normalised) image feature x [vis] → [D]. */
export function metaNetForward(net: MetaNet, x: Float32Array): Float32Array {
  const [hidden, vis] = net.linear1.weight.shape;
  const [d, hidden2] = net.linear2.weight.shape;
  if (x.length !== vis || hidden2 !== hidden) throw new Error(`meta-net: input ${x.length}, linear1 [${hidden}, ${vis}], linear2 [${d}, ${hidden2}]`);
  const w1 = net.linear1.weight.data;
  const b1 = net.linear1.bias.data;
  const w2 = net.linear2.weight.data;
  const b2 = net.linear2.bias.data;
  const h = new Float32Array(hidden);
  for (let o = 0; o < hidden; o++) {
    let s = b1[o];
    for (let i = 0; i < vis; i++) s += w1[o * vis + i] * x[i];
    h[o] = s > 0 ? s : 0;
  }
  const out = new Float32Array(d);
  for (let o = 0; o < d; o++) {
    let s = b2[o];
    for (let i = 0; i < hidden; i++) s += w2[o * hidden + i] * h[i];
    out[o] = s;
  }
  return out;
}

/** Context rows of one image: ctx [M, D] + π(x) on every row (CoCoOp), or ctx itself (CoOp). */
function contextRows(adapter: AdapterParams, normedFeature: Float32Array | null): Float32Array {
  const ctx = adapter.ctx.data;
  if (adapter.method !== 'cocoop') return ctx;
  const bias = metaNetForward(adapter.metaNet!, normedFeature!);
  const d = bias.length;
  const out = new Float32Array(ctx.length);
  for (let r = 0; r < ctx.length / d; r++) for (let j = 0; j < d; j++) out[r * d + j] = ctx[r * d + j] + bias[j];
  return out;
}

/** The adapter fits this model (shapes) and its method (meta-net present iff CoCoOp). */
function checkAdapter(model: ClipModel, adapter: AdapterParams): void {
  const d = model.config.text.hiddenSize;
  const p = model.config.projectionDim;
  const [m, w] = adapter.ctx.shape;
  if (adapter.ctx.shape.length !== 2 || w !== d || !(m >= 1) || adapter.ctx.data.length !== m * d) {
    throw new Error(`adapter: ctx has shape [${adapter.ctx.shape}], expected [M, ${d}] for this model`);
  }
  if (adapter.method === 'cocoop') {
    const net = adapter.metaNet;
    if (!net) throw new Error('adapter: a CoCoOp adapter needs its meta-net');
    const [h, vis] = net.linear1.weight.shape;
    const [out, h2] = net.linear2.weight.shape;
    if (vis !== p || out !== d || h2 !== h || net.linear1.bias.data.length !== h || net.linear2.bias.data.length !== d) {
      throw new Error(`adapter: meta-net shapes [${h}, ${vis}] → [${out}, ${h2}] do not fit projection dim ${p} and text width ${d}`);
    }
  } else if (adapter.method === 'coop') {
    if (adapter.metaNet) throw new Error('adapter: a CoOp adapter has no meta-net (is it a CoCoOp adapter?)');
  } else {
    throw new Error(`adapter: unknown method ${String(adapter.method)}`);
  }
}

function checkImages(model: ClipModel, imageFeatures: Float32Array, n: number): void {
  const p = model.config.projectionDim;
  if (!Number.isInteger(n) || n < 1) throw new Error(`logits: n must be a positive integer, got ${n}`);
  if (imageFeatures.length !== n * p) throw new Error(`logits: ${imageFeatures.length} image feature values, expected ${n}×${p}`);
}

/** logits[i, c] = scale · ⟨f̂_i, t_c⟩ / ‖t_c‖ for rows `textRows` of `text` [*, P] (f̂ already unit). */
function writeLogits(
  out: Float32Array,
  outIndex: (row: number) => number,
  normedImage: (row: number) => Float32Array,
  text: Float32Array,
  rows: number,
  p: number,
  scale: number,
): void {
  for (let r = 0; r < rows; r++) {
    const f = normedImage(r);
    let dot = 0;
    let nn = 0;
    for (let j = 0; j < p; j++) {
      const t = text[r * p + j];
      dot += t * f[j];
      nn += t * t;
    }
    out[outIndex(r)] = (scale * dot) / Math.sqrt(nn);
  }
}

/**
 * Groups suffix lengths into buckets of classes run together (padded to the bucket's longest):
 * contiguous ranges of the classes sorted by length, chosen by dynamic programming to minimise
 * Σ (overhead + count · maxLen). Returns class indices per bucket.
 */
export function planLengthBuckets(lengths: number[], overheadTokens: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const n = order.length;
  const best = new Float64Array(n + 1).fill(Infinity);
  const from = new Int32Array(n + 1);
  best[0] = 0;
  for (let j = 1; j <= n; j++) {
    const maxLen = lengths[order[j - 1]];
    for (let i = 0; i < j; i++) {
      const c = best[i] + overheadTokens + (j - i) * maxLen;
      if (c < best[j]) {
        best[j] = c;
        from[j] = i;
      }
    }
  }
  const buckets: number[][] = [];
  for (let j = n; j > 0; j = from[j]) buckets.unshift(order.slice(from[j], j));
  return buckets;
}

function adapterKey(adapter: AdapterParams): string {
  const h = createHash('sha256');
  h.update(`${adapter.method}:${adapter.ctx.shape.join('x')}:`);
  const c = adapter.ctx.data;
  h.update(new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
  return h.digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Prefix-shared text tower (the two graphs of text-prefix-graphs.ts on ORT)

/** Per-layer keys/values of a batch of prefixes, kept as ORT tensors between the two graphs. */
export interface PrefixState {
  keys: ort.Tensor; // [layers, batch, heads, P0, hd]
  values: ort.Tensor;
  batch: number;
  length: number; // P0
}

export class PrefixSharedTextTower {
  private prefixSession?: Promise<ort.InferenceSession>;
  private suffixSession?: Promise<ort.InferenceSession>;

  constructor(
    readonly model: ClipModel,
    private readonly opts: OrtEncoderOptions = {},
  ) {}

  private session(kind: Extract<GraphKind, 'text-prefix' | 'text-suffix'>): Promise<ort.InferenceSession> {
    const { weights, config } = this.model;
    return openGraphSession(this.model, kind, this.opts, () =>
      kind === 'text-prefix' ? buildTextPrefixGraph(weights.text, config.text) : buildTextSuffixGraph(weights.text, config.text),
    );
  }

  /** Prefix embeddings [n, length, D] (positions 0..length-1) → their per-layer keys and values. */
  async encodePrefix(embeds: Float32Array, n: number, length: number): Promise<PrefixState> {
    const d = this.model.config.text.hiddenSize;
    if (embeds.length !== n * length * d) throw new Error(`encodePrefix: ${embeds.length} values for [${n}, ${length}, ${d}]`);
    if (!(length >= 1 && length < this.model.config.text.maxPositionEmbeddings)) throw new Error(`encodePrefix: prefix length ${length}`);
    const session = await (this.prefixSession ??= this.session('text-prefix'));
    const out = await session.run({ prefix_embeds: new ort.Tensor('float32', embeds, [n, length, d]) });
    return { keys: out.past_keys, values: out.past_values, batch: n, length };
  }

  /**
   * Suffix embeddings [rows, seq, D] (positions P0..P0+seq-1), each continuing prefix `rowPrefix[r]`
   * of `prefix`, EOT at `eot[r]` (< seq, relative to the suffix) → text features [rows, P].
   */
  async encodeSuffix(prefix: PrefixState, embeds: Float32Array, rows: number, seq: number, eot: number[], rowPrefix: number[]): Promise<Float32Array> {
    const t = this.model.config.text;
    const d = t.hiddenSize;
    if (embeds.length !== rows * seq * d) throw new Error(`encodeSuffix: ${embeds.length} values for [${rows}, ${seq}, ${d}]`);
    if (prefix.length + seq > t.maxPositionEmbeddings) {
      throw new Error(`encodeSuffix: prefix ${prefix.length} + suffix ${seq} tokens exceed ${t.maxPositionEmbeddings} positions`);
    }
    if (eot.length !== rows || rowPrefix.length !== rows) throw new Error(`encodeSuffix: ${eot.length} EOT / ${rowPrefix.length} prefix indices for ${rows} rows`);
    // Out-of-range indices would read another row's data (flattened gathers), not fail.
    for (const e of eot) if (!Number.isInteger(e) || e < 0 || e >= seq) throw new Error(`encodeSuffix: EOT index ${e} outside [0, ${seq})`);
    for (const b of rowPrefix) if (!Number.isInteger(b) || b < 0 || b >= prefix.batch) throw new Error(`encodeSuffix: prefix index ${b} outside [0, ${prefix.batch})`);
    const session = await (this.suffixSession ??= this.session('text-suffix'));
    const out = await session.run({
      suffix_embeds: new ort.Tensor('float32', embeds, [rows, seq, d]),
      eot_index: new ort.Tensor('int64', BigInt64Array.from(eot, BigInt), [rows]),
      row_prefix: new ort.Tensor('int64', BigInt64Array.from(rowPrefix, BigInt), [rows]),
      past_keys: prefix.keys,
      past_values: prefix.values,
    });
    return out.text_embeds.data as Float32Array;
  }

  async release(): Promise<void> {
    for (const s of [this.prefixSession, this.suffixSession]) if (s) await (await s).release();
    this.prefixSession = this.suffixSession = undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Inference

export interface CocoopInferenceOptions extends OrtEncoderOptions {
  /** CoCoOp: share each image's prefix across classes (default true; false = batched + truncated prompts only). */
  sharePrefix?: boolean;
  /** Entries of the CoOp / zero-shot text-feature LRU cache (default 32). */
  cacheSize?: number;
  /** Upper bound on rows × tokens of one text-tower call (default 8192). */
  maxTokensPerCall?: number;
  /** Images whose prefixes run in one prefix-graph call (default 64). */
  maxPrefixBatch?: number;
}

export interface TextCacheStats {
  hits: number;
  misses: number;
  size: number;
}

/** A text-tower call costs about this many tokens of work besides its rows (run overhead). */
const CALL_OVERHEAD_TOKENS = 4;

export class CocoopInference {
  readonly model: ClipModel;
  private readonly tower: PrefixSharedTextTower;
  private readonly cache = new Map<string, Float32Array>(); // key → unit-norm text features [C, P]
  private hits = 0;
  private misses = 0;
  private readonly sharePrefix: boolean;
  private readonly cacheSize: number;
  private readonly maxTokens: number;
  private readonly maxPrefixBatch: number;

  constructor(
    readonly encoders: OrtClipEncoders,
    opts: CocoopInferenceOptions = {},
  ) {
    this.model = encoders.model;
    this.tower = new PrefixSharedTextTower(encoders.model, { threads: opts.threads, provider: opts.provider, log: opts.log });
    this.sharePrefix = opts.sharePrefix ?? true;
    this.cacheSize = opts.cacheSize ?? 32;
    this.maxTokens = opts.maxTokensPerCall ?? 8192;
    this.maxPrefixBatch = opts.maxPrefixBatch ?? 64;
    if (!(this.maxTokens >= CONTEXT_LENGTH)) throw new Error(`maxTokensPerCall must be ≥ ${CONTEXT_LENGTH}`);
    if (!(this.cacheSize >= 0) || !(this.maxPrefixBatch >= 1)) throw new Error('cacheSize must be ≥ 0 and maxPrefixBatch ≥ 1');
  }

  /** exp(logit_scale) of the model. */
  get scale(): number {
    return Math.exp(this.model.weights.logitScale);
  }

  /** Hits and misses of the CoOp / zero-shot text-feature cache since construction. */
  get cacheStats(): TextCacheStats {
    return { hits: this.hits, misses: this.misses, size: this.cache.size };
  }

  clearCache(): void {
    this.cache.clear();
  }

  /**
   * logits [n, C] (row-major) = exp(logit_scale) · cos(image, text) for `labels`, with the adapter's
   * prompts (CoCoOp: per image; CoOp: static) or zero-shot CLIP prompts when `adapter` is null.
   * `imageFeatures` [n, P]: projected image features (encoders.encodePixels), not necessarily normalised.
   */
  async logits(imageFeatures: Float32Array, n: number, labels: string[], adapter: AdapterParams | null): Promise<Float32Array> {
    const p = this.model.config.projectionDim;
    checkImages(this.model, imageFeatures, n);
    validateLabels(labels);
    if (adapter) checkAdapter(this.model, adapter);
    const images = l2NormalizeRows(imageFeatures, n, p);
    const c = labels.length;
    if (adapter?.method === 'cocoop') return this.sharePrefix ? this.cocoopShared(images, n, labels, adapter) : this.cocoopBatched(images, n, labels, adapter);

    const text = await this.staticText(labels, adapter); // [C, P] unit rows
    const out = new Float32Array(n * c);
    const scale = this.scale;
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < c; k++) {
        let dot = 0;
        for (let j = 0; j < p; j++) dot += images[i * p + j] * text[k * p + j];
        out[i * c + k] = scale * dot;
      }
    }
    return out;
  }

  /** Unit-norm text features [C, P] of a static prompt set (CoOp adapter, or zero-shot when null); cached. */
  async textFeatures(labels: string[], adapter: AdapterParams | null): Promise<Float32Array> {
    validateLabels(labels);
    if (adapter) {
      checkAdapter(this.model, adapter);
      if (adapter.method === 'cocoop') throw new Error('textFeatures: CoCoOp prompts depend on the image');
    }
    return (await this.staticText(labels, adapter)).slice();
  }

  private async staticText(labels: string[], adapter: AdapterParams | null): Promise<Float32Array> {
    const key = `${adapter ? `${adapter.method}:${adapterKey(adapter)}` : 'zeroshot'}\u0000${JSON.stringify(labels)}`;
    const cached = this.cache.get(key);
    if (cached) {
      this.hits++;
      this.cache.delete(key); // most recently used last
      this.cache.set(key, cached);
      return cached;
    }
    this.misses++;
    const feats = adapter ? await this.coopText(labels, adapter) : await this.zeroShotText(labels);
    if (this.cacheSize > 0) {
      this.cache.set(key, feats);
      while (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    }
    return feats;
  }

  /** Runs prompts [C, L, D] through the full text graph in chunks of ≤ maxTokens; unit-norm rows [C, P]. */
  private async fullText(embeds: Float32Array, c: number, length: number, eot: number[]): Promise<Float32Array> {
    const d = this.model.config.text.hiddenSize;
    const p = this.model.config.projectionDim;
    const per = Math.max(1, Math.floor(this.maxTokens / length));
    const out = new Float32Array(c * p);
    for (let k0 = 0; k0 < c; k0 += per) {
      const k1 = Math.min(c, k0 + per);
      const part = await this.encoders.encodeEmbeddings(embeds.subarray(k0 * length * d, k1 * length * d), k1 - k0, length, eot.slice(k0, k1));
      out.set(part, k0 * p);
    }
    return l2NormalizeRows(out, c, p);
  }

  private async coopText(labels: string[], adapter: AdapterParams): Promise<Float32Array> {
    const { tokenizer, weights } = this.model;
    const cp = classPrompts(tokenizer, weights.text.tokenEmbedding, labels, adapter.ctx.shape[0]);
    return this.fullText(assemblePrompts(cp, adapter.ctx.data, 1), labels.length, cp.length, cp.eot);
  }

  private async zeroShotText(labels: string[]): Promise<Float32Array> {
    const { tokenizer, weights } = this.model;
    const ids = zeroShotTexts(labels).map((t) => tokenizer.encode(t));
    const batch = embedTokenIds(weights.text.tokenEmbedding, ids, tokenizer.eotId);
    return this.fullText(batch.embeds, batch.n, batch.length, batch.eot);
  }

  /** CoCoOp with speed-ups 1+2 only: all images × classes as full (truncated) prompts. */
  private async cocoopBatched(images: Float32Array, n: number, labels: string[], adapter: AdapterParams): Promise<Float32Array> {
    const { tokenizer, weights, config } = this.model;
    const d = config.text.hiddenSize;
    const p = config.projectionDim;
    const m = adapter.ctx.shape[0];
    const c = labels.length;
    const cp = classPrompts(tokenizer, weights.text.tokenEmbedding, labels, m);
    const out = new Float32Array(n * c);
    const perCall = Math.max(1, Math.floor(this.maxTokens / (c * cp.length)));
    for (let i0 = 0; i0 < n; i0 += perCall) {
      const nb = Math.min(n - i0, perCall);
      const ctxRows = new Float32Array(nb * m * d);
      for (let j = 0; j < nb; j++) ctxRows.set(contextRows(adapter, images.subarray((i0 + j) * p, (i0 + j + 1) * p)), j * m * d);
      const embeds = assemblePrompts(cp, ctxRows, nb);
      const eot = Array.from({ length: nb * c }, (_, r) => cp.eot[r % c]);
      const text = await this.encoders.encodeEmbeddings(embeds, nb * c, cp.length, eot);
      writeLogits(out, (r) => i0 * c + r, (r) => images.subarray((i0 + Math.floor(r / c)) * p, (i0 + Math.floor(r / c) + 1) * p), text, nb * c, p, this.scale);
    }
    return out;
  }

  /** CoCoOp with the shared prefix: prefix graph once per image, class suffixes batched by length. */
  private async cocoopShared(images: Float32Array, n: number, labels: string[], adapter: AdapterParams): Promise<Float32Array> {
    const { tokenizer, weights, config } = this.model;
    const d = config.text.hiddenSize;
    const p = config.projectionDim;
    const m = adapter.ctx.shape[0];
    const c = labels.length;
    const p0 = 1 + m;
    const cp: ClassPrompts = classPrompts(tokenizer, weights.text.tokenEmbedding, labels, m);
    const lens = cp.suffixes.map((s) => s.length / d);
    const maxLen = Math.max(...lens);
    const out = new Float32Array(n * c);
    const scale = this.scale;

    // Images per prefix call: all classes of each image should fit one suffix call when possible.
    const perChunk = Math.max(1, Math.min(this.maxPrefixBatch, Math.floor(this.maxTokens / (c * maxLen))));
    for (let i0 = 0; i0 < n; i0 += perChunk) {
      const nb = Math.min(n - i0, perChunk);
      const prefix = new Float32Array(nb * p0 * d);
      for (let j = 0; j < nb; j++) {
        prefix.set(cp.prefix, j * p0 * d);
        prefix.set(contextRows(adapter, images.subarray((i0 + j) * p, (i0 + j + 1) * p)), (j * p0 + 1) * d);
      }
      const state = await this.tower.encodePrefix(prefix, nb, p0);

      for (const bucket of planLengthBuckets(lens, CALL_OVERHEAD_TOKENS / nb)) {
        const seq = Math.max(...bucket.map((k) => lens[k]));
        const classesPerCall = Math.max(1, Math.floor(this.maxTokens / (nb * seq)));
        for (let b0 = 0; b0 < bucket.length; b0 += classesPerCall) {
          const cls = bucket.slice(b0, b0 + classesPerCall);
          const rows = nb * cls.length;
          const embeds = new Float32Array(rows * seq * d); // rows after each EOT stay zero (masked)
          const eot: number[] = [];
          const rowPrefix: number[] = [];
          for (let j = 0; j < nb; j++) {
            cls.forEach((k, kk) => {
              embeds.set(cp.suffixes[k], (j * cls.length + kk) * seq * d);
              eot.push(lens[k] - 1);
              rowPrefix.push(j);
            });
          }
          const text = await this.tower.encodeSuffix(state, embeds, rows, seq, eot, rowPrefix);
          writeLogits(
            out,
            (r) => (i0 + Math.floor(r / cls.length)) * c + cls[r % cls.length],
            (r) => images.subarray((i0 + rowPrefix[r]) * p, (i0 + rowPrefix[r] + 1) * p),
            text,
            rows,
            p,
            scale,
          );
        }
      }
    }
    return out;
  }

  /** Releases the prefix/suffix sessions (the encoders belong to the caller). */
  async release(): Promise<void> {
    await this.tower.release();
  }
}

/**
 * The official-style computation: per image, the C prompts (CoCoOp: ctx + π(x) for that image;
 * CoOp: ctx; zero-shot: "a photo of a {c}.") padded to 77 tokens through the full text graph; no
 * prefix sharing, no caching. logits [n, C] = exp(logit_scale) · cos.
 */
export async function naiveOfficialLogits(
  encoders: OrtClipEncoders,
  imageFeatures: Float32Array,
  n: number,
  labels: string[],
  adapter: AdapterParams | null,
): Promise<Float32Array> {
  const model = encoders.model;
  const { tokenizer, weights, config } = model;
  const p = config.projectionDim;
  checkImages(model, imageFeatures, n);
  validateLabels(labels);
  if (adapter) checkAdapter(model, adapter);
  const c = labels.length;
  const images = l2NormalizeRows(imageFeatures, n, p);
  const scale = Math.exp(weights.logitScale);
  const cp = adapter ? classPrompts(tokenizer, weights.text.tokenEmbedding, labels, adapter.ctx.shape[0]) : null;
  const ids = adapter ? null : zeroShotTexts(labels).map((t) => tokenizer.encode(t));
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    const f = images.subarray(i * p, (i + 1) * p);
    let text: Float32Array;
    if (cp && adapter) {
      const embeds = assemblePrompts(cp, contextRows(adapter, f), 1, CONTEXT_LENGTH);
      text = await encoders.encodeEmbeddings(embeds, c, CONTEXT_LENGTH, cp.eot);
    } else {
      const batch = embedTokenIds(weights.text.tokenEmbedding, ids!, tokenizer.eotId, CONTEXT_LENGTH);
      text = await encoders.encodeEmbeddings(batch.embeds, c, CONTEXT_LENGTH, batch.eot);
    }
    writeLogits(out, (r) => i * c + r, () => f, text, c, p, scale);
  }
  return out;
}
