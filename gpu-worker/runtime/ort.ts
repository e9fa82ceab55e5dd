// ONNX Runtime sessions for the CLIP graphs (gpu-worker/clip/onnx/*), plus thin typed runners.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';

export type OrtProvider = 'auto' | 'cpu' | 'cuda';

/** The execution provider asked for cannot be used here (e.g. ORT_EP=cuda without CUDA). */
export class OrtProviderError extends Error {
  override name = 'OrtProviderError';
}

/** ORT_EP=cpu|cuda forces an execution provider; unset or empty: auto (CUDA when it loads, else CPU). */
export function ortProviderFromEnv(env: Record<string, string | undefined>): OrtProvider {
  const v = env.ORT_EP?.trim().toLowerCase();
  if (!v || v === 'auto') return 'auto';
  if (v === 'cpu' || v === 'cuda') return v;
  throw new OrtProviderError(`ORT_EP must be cpu or cuda (or unset for auto), got ${JSON.stringify(env.ORT_EP)}`);
}

export interface OrtSessionOptions {
  threads?: number; // intra-op threads; default os.availableParallelism()
  provider?: OrtProvider; // default: ORT_EP, else 'auto' (CUDA when it loads, else CPU)
  log?: (line: string) => void; // default: one line to stderr
}

/**
 * Intra-op threads do not spin-wait between runs (ORT's default is to spin). Every process here alternates
 * between sessions (image tower, then text graph; per training step and per classify request), each with its own
 * thread pool: spinning threads of the idle session took the cores from the working one. Measured on vit-b16,
 * 2 cores, one training step at 10 classes: image feature 180–220 → 130 ms and text step 72–86 → 39 ms.
 */
const NO_SPINNING = { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } };

function sessionOptions(threads: number, provider: 'cpu' | 'cuda'): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    extra: NO_SPINNING,
  };
}

/**
 * Why CUDA cannot work, when that is visible without asking onnxruntime (which would print a
 * multi-line native error): the CUDA provider library is absent from the package's binary folder.
 */
function cudaMissingReason(): string | undefined {
  try {
    const pkgDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-node'));
    const binDir = join(pkgDist, '..', 'bin', 'napi-v6', process.platform, process.arch);
    if (!existsSync(join(binDir, 'onnxruntime_binding.node'))) return undefined; // unknown layout: just try
    const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    return existsSync(join(binDir, lib)) ? undefined : `${lib} is not installed`;
  } catch {
    return undefined;
  }
}

/** The CUDA fallback is said once per process, not once per session. */
let fallbackLogged = false;
function logFallbackOnce(log: (line: string) => void, reason: string): void {
  if (fallbackLogged) return;
  fallbackLogged = true;
  log(`onnxruntime: CUDA provider unavailable (${reason}), using CPU`);
}

/**
 * Checks ORT_EP before any work: a bad value, or cuda where its provider library is missing, is an
 * OrtProviderError now rather than after a graph build.
 */
export function checkOrtProviderSetting(env: Record<string, string | undefined> = process.env): OrtProvider {
  const provider = ortProviderFromEnv(env);
  const missing = provider === 'cuda' ? cudaMissingReason() : undefined;
  if (missing) {
    throw new OrtProviderError(
      `the CUDA execution provider was asked for (ORT_EP=cuda) but ${missing}: install onnxruntime-node with its CUDA provider (docs/deploy.md) or set ORT_EP=cpu`,
    );
  }
  return provider;
}

export async function createOrtSession(modelPath: string, opts: OrtSessionOptions = {}): Promise<ort.InferenceSession> {
  const threads = opts.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`onnxruntime: threads must be a positive integer, got ${threads}`);
  const provider = opts.provider ?? ortProviderFromEnv(process.env);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (provider === 'cpu') return ort.InferenceSession.create(modelPath, sessionOptions(threads, 'cpu'));
  if (provider === 'cuda') {
    const missing = cudaMissingReason();
    if (missing) {
      throw new OrtProviderError(
        `the CUDA execution provider was asked for (ORT_EP=cuda) but ${missing}: install onnxruntime-node with its CUDA provider (docs/deploy.md) or set ORT_EP=cpu`,
      );
    }
    try {
      return await ort.InferenceSession.create(modelPath, { ...sessionOptions(threads, 'cuda'), logSeverityLevel: 4 });
    } catch (e) {
      throw new OrtProviderError(`the CUDA execution provider was asked for (ORT_EP=cuda) but failed to start: ${((e as Error).message ?? String(e)).split('\n')[0]}`);
    }
  }
  const missing = cudaMissingReason();
  if (missing) {
    logFallbackOnce(log, missing);
    return ort.InferenceSession.create(modelPath, sessionOptions(threads, 'cpu'));
  }
  try {
    // The library is there; CUDA may still fail to initialise (no driver or device).
    return await ort.InferenceSession.create(modelPath, { ...sessionOptions(threads, 'cuda'), logSeverityLevel: 4 });
  } catch (e) {
    const reason = ((e as Error).message ?? String(e)).split('\n')[0];
    logFallbackOnce(log, reason);
    return ort.InferenceSession.create(modelPath, sessionOptions(threads, 'cpu'));
  }
}

/** Prompt embeddings [n, seq, d] + EOT positions (each < seq) → text_embeds [n, P]. */
export async function runTextGraph(
  session: ort.InferenceSession,
  embeds: Float32Array,
  n: number,
  seq: number,
  d: number,
  eot: number[],
): Promise<Float32Array> {
  if (embeds.length !== n * seq * d) throw new Error(`runTextGraph: ${embeds.length} values for [${n}, ${seq}, ${d}]`);
  if (eot.length !== n) throw new Error(`runTextGraph: ${eot.length} EOT indices for ${n} prompts`);
  // An out-of-range EOT would silently select a row of the next prompt (rows are flattened).
  for (const e of eot) {
    if (!Number.isInteger(e) || e < 0 || e >= seq) throw new Error(`runTextGraph: EOT index ${e} outside [0, ${seq})`);
  }
  const feeds = {
    inputs_embeds: new ort.Tensor('float32', embeds, [n, seq, d]),
    eot_index: new ort.Tensor('int64', BigInt64Array.from(eot, BigInt), [n]),
  };
  const out = await session.run(feeds);
  return out.text_embeds.data as Float32Array;
}

/** Pixels [n, c, s, s] → image_embeds [n, P]. */
export async function runVisionGraph(
  session: ort.InferenceSession,
  pixels: Float32Array,
  n: number,
  c: number,
  s: number,
): Promise<Float32Array> {
  if (pixels.length !== n * c * s * s) throw new Error(`runVisionGraph: ${pixels.length} values for [${n}, ${c}, ${s}, ${s}]`);
  const out = await session.run({ pixel_values: new ort.Tensor('float32', pixels, [n, c, s, s]) });
  return out.image_embeds.data as Float32Array;
}
