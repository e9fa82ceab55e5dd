// Image features of the training views, computed with the image tower outside autodiff (the image
// encoder is frozen, so a view's feature is a constant of the training step).
//
// A view is identified by (image index, epoch, view seed); its seed is derived from the run seed, the
// epoch and the image index, so the views of an epoch do not depend on the order in which they are
// computed or on where a run was interrupted. All views of an epoch are computed at the start of the
// epoch, `batchSize` images per encoder call, and kept: in memory for the life of the object, and
// optionally on disk (one small file per view, keyed by model hash + image content hash + view seed +
// preprocessing), so a resumed or repeated epoch reads them back instead of recomputing.
//
// Each image file is read and hashed once, and decoded at most once per object (only when one of its
// views has to be computed); decoded images are kept in memory for the later epochs.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RGBImage } from '../clip/image-resize.ts';
import { decodeImageRGB, type PreprocessConfig } from '../clip/preprocess.ts';
import { SeededRandom } from '../clip/random.ts';
import { RRC_SCALE, testView, trainView, viewSize } from './augment.ts';

/** What computes image features: OrtClipEncoders (or a stand-in with the same method). */
export interface PixelEncoder {
  /** Preprocessed pixels [n, 3, S, S] → projected, un-normalised image features [n, P]. */
  encodePixels(pixels: Float32Array, n: number): Promise<Float32Array>;
}

/** Changes whenever the view recipe changes, so stale disk entries are never read. */
const RECIPE = 'rrc-bicubic-0.08-1-0.75-1.333+hflip0.5+norm/v1';

/** A 32-bit seed from a few integers (murmur3 finaliser over a running mix): decorrelated streams. */
export function deriveSeed(...parts: number[]): number {
  let h = 0x2545f491;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x9e3779b1) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h >>> 0;
}

const VIEW_STREAM = 0x56494557; // 'VIEW'

/** The seed of the training view of image `index` in epoch `epoch` (0-based) of a run seeded `seed`. */
export function viewSeed(seed: number, epoch: number, index: number): number {
  return deriveSeed(VIEW_STREAM, seed, epoch, index);
}

export class AbortError extends Error {
  override name = 'AbortError';
}

export function throwIfAborted(signal: AbortSignal | undefined, what = 'training aborted'): void {
  if (signal?.aborted) throw new AbortError(what);
}

export interface ViewFeatureOptions {
  /** sha256 of the model weights (disk-cache key). */
  modelSha256: string;
  preprocess: PreprocessConfig;
  /** Feature width P (projection dim). */
  dim: number;
  /** Run seed (views are derived from it). */
  seed: number;
  /** Images per encoder call (default 16). */
  batchSize?: number;
  /** RandomResizedCrop area range (default RRC_SCALE, the official (0.08, 1)). */
  cropScale?: [number, number];
  /** Optional on-disk cache directory (created on demand). */
  cacheDir?: string;
  /** false: every view is the evaluation transform (resize + centre crop), the same in every epoch. */
  augment?: boolean;
}

export interface ViewFeatureStats {
  computed: number; // views run through the encoder
  fromDisk: number; // views read from the disk cache
  decoded: number; // image decodes
  encoderCalls: number;
}

export class ViewFeatures {
  readonly dim: number;
  readonly stats: ViewFeatureStats = { computed: 0, fromDisk: 0, decoded: 0, encoderCalls: 0 };
  private readonly epochs = new Map<number, Float32Array>();
  private readonly hashes = new Map<number, string>();
  private readonly images = new Map<number, RGBImage>();
  /** File bytes read for hashing, kept until the image is decoded (the first epoch's misses only). */
  private readonly bytes = new Map<number, Uint8Array>();
  private readonly batchSize: number;
  private readonly cropScale: [number, number];
  private readonly diskDir?: string;

  constructor(
    private readonly encoder: PixelEncoder,
    private readonly paths: string[],
    private readonly opts: ViewFeatureOptions,
  ) {
    this.dim = opts.dim;
    this.batchSize = opts.batchSize ?? 16;
    this.cropScale = opts.cropScale ?? RRC_SCALE;
    const [lo, hi] = this.cropScale;
    if (!(lo > 0 && lo <= hi && hi <= 1)) throw new Error(`view features: crop scale [${lo}, ${hi}] must satisfy 0 < min ≤ max ≤ 1`);
    if (!(Number.isInteger(this.batchSize) && this.batchSize >= 1)) throw new Error(`view features: batch size ${this.batchSize} must be a positive integer`);
    if (opts.cacheDir) this.diskDir = join(opts.cacheDir, opts.modelSha256.slice(0, 16));
  }

  get size(): number {
    return this.paths.length;
  }

  /** Whether this object computes the views of the same images (by path), seed, model and preprocessing. */
  matches(paths: readonly string[], opts: ViewFeatureOptions): boolean {
    const o = this.opts;
    return (
      paths.length === this.paths.length &&
      paths.every((x, i) => x === this.paths[i]) &&
      o.modelSha256 === opts.modelSha256 &&
      o.seed === opts.seed &&
      o.dim === opts.dim &&
      JSON.stringify(this.cropScale) === JSON.stringify(opts.cropScale ?? RRC_SCALE) &&
      (o.augment ?? true) === (opts.augment ?? true) &&
      JSON.stringify(o.preprocess) === JSON.stringify(opts.preprocess)
    );
  }

  /** Whether the features of `epoch` are in memory. */
  has(epoch: number): boolean {
    return this.epochs.has(epoch);
  }

  /** Forget the in-memory features of an epoch (the disk cache is kept). */
  drop(epoch: number): void {
    this.epochs.delete(epoch);
  }

  /** Features [N, P] of every image's view in `epoch`, in image order: from memory, disk, or computed now. */
  async epoch(epoch: number, signal?: AbortSignal): Promise<Float32Array> {
    const have = this.epochs.get(epoch);
    if (have) return have;
    if (this.opts.augment === false) {
      // Evaluation views do not depend on the epoch: any epoch in memory serves.
      const any = this.epochs.values().next();
      if (!any.done) {
        this.epochs.set(epoch, any.value);
        return any.value;
      }
    }
    const n = this.paths.length;
    const p = this.dim;
    const out = new Float32Array(n * p);
    const missing: number[] = [];
    for (let i = 0; i < n; i++) {
      const cached = this.diskDir ? this.readDisk(await this.keyOf(epoch, i)) : null;
      if (cached) {
        out.set(cached, i * p);
        this.stats.fromDisk++;
        this.bytes.delete(i); // read only for its hash
      } else {
        missing.push(i);
      }
    }
    const s = viewSize(this.opts.preprocess);
    const per = 3 * s * s;
    for (let b = 0; b < missing.length; b += this.batchSize) {
      throwIfAborted(signal);
      const chunk = missing.slice(b, b + this.batchSize);
      const pixels = new Float32Array(chunk.length * per);
      for (let k = 0; k < chunk.length; k++) {
        const i = chunk[k];
        const img = await this.image(i);
        this.bytes.delete(i);
        const view =
          this.opts.augment === false
            ? testView(img, this.opts.preprocess)
            : trainView(img, this.opts.preprocess, new SeededRandom(viewSeed(this.opts.seed, epoch, i)), { scale: this.cropScale });
        pixels.set(view, k * per);
      }
      const feats = await this.encoder.encodePixels(pixels, chunk.length);
      this.stats.encoderCalls++;
      if (feats.length !== chunk.length * p) {
        throw new Error(`view features: the image encoder returned ${feats.length} values for ${chunk.length}×${p}`);
      }
      for (let k = 0; k < chunk.length; k++) {
        const row = feats.subarray(k * p, (k + 1) * p);
        out.set(row, chunk[k] * p);
        if (this.diskDir) this.writeDisk(await this.keyOf(epoch, chunk[k]), row);
      }
      this.stats.computed += chunk.length;
    }
    this.epochs.set(epoch, out);
    return out;
  }

  /** Rows `indices` of an epoch's features (computing the epoch if needed) → [B, P]. */
  async rows(epoch: number, indices: readonly number[]): Promise<Float32Array> {
    const all = await this.epoch(epoch);
    const p = this.dim;
    const out = new Float32Array(indices.length * p);
    indices.forEach((i, k) => {
      if (!(Number.isInteger(i) && i >= 0 && i < this.paths.length)) throw new Error(`view features: image index ${i} out of range`);
      out.set(all.subarray(i * p, (i + 1) * p), k * p);
    });
    return out;
  }

  /** Drops decoded images and in-memory features. */
  clear(): void {
    this.epochs.clear();
    this.images.clear();
    this.bytes.clear();
  }

  // -------------------------------------------------------------------------

  private async bytesAndHash(i: number): Promise<Uint8Array> {
    const kept = this.bytes.get(i);
    if (kept) return kept;
    const path = this.paths[i];
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (e) {
      throw new Error(`${path}: cannot read image file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    this.hashes.set(i, createHash('sha256').update(bytes).digest('hex'));
    if (!this.images.has(i)) this.bytes.set(i, bytes);
    return bytes;
  }

  private async contentHash(i: number): Promise<string> {
    if (!this.hashes.has(i)) await this.bytesAndHash(i);
    return this.hashes.get(i)!;
  }

  private async image(i: number): Promise<RGBImage> {
    let img = this.images.get(i);
    if (!img) {
      const bytes = await this.bytesAndHash(i);
      img = await decodeImageRGB(bytes, this.paths[i]);
      this.stats.decoded++;
      this.images.set(i, img);
    }
    return img;
  }

  private async keyOf(epoch: number, i: number): Promise<string> {
    const pre = this.opts.preprocess;
    if (this.opts.augment === false) {
      const desc = JSON.stringify(['eval-view/v1', this.opts.modelSha256, await this.contentHash(i), viewSize(pre), pre.mean, pre.std]);
      return createHash('sha256').update(desc).digest('hex');
    }
    const crop = this.cropScale[0] === RRC_SCALE[0] && this.cropScale[1] === RRC_SCALE[1] ? [] : [this.cropScale]; // default: same keys as before
    const desc = JSON.stringify([RECIPE, this.opts.modelSha256, await this.contentHash(i), viewSeed(this.opts.seed, epoch, i), viewSize(pre), pre.mean, pre.std, ...crop]);
    return createHash('sha256').update(desc).digest('hex');
  }

  private readDisk(key: string): Float32Array | null {
    const file = join(this.diskDir!, `${key}.f32`);
    try {
      if (statSync(file).size !== this.dim * 4) return null;
      const buf = readFileSync(file); // host byte order (little-endian everywhere this runs)
      const out = new Float32Array(this.dim);
      new Uint8Array(out.buffer).set(buf);
      for (const v of out) if (!Number.isFinite(v)) return null;
      return out;
    } catch {
      return null;
    }
  }

  private writeDisk(key: string, row: Float32Array): void {
    mkdirSync(this.diskDir!, { recursive: true });
    const file = join(this.diskDir!, `${key}.f32`);
    const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    try {
      writeFileSync(tmp, new Uint8Array(row.buffer, row.byteOffset, row.byteLength));
      renameSync(tmp, file);
    } catch {
      // The disk cache is an optimisation: a failed write only means a later recompute.
      try {
        unlinkSync(tmp);
      } catch {
        /* may not exist */
      }
    }
  }
}
