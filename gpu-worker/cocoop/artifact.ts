// The adapter artifact: one safetensors file in the official CoCoOp prompt-learner naming
// (ARCHITECTURE.md "Adapter artifact"), with metadata. Reading refuses anything that is not an
// adapter for the loaded base model.
import type { ClipConfig } from '../clip/config.ts';
import { readSafetensors, writeSafetensors, SafetensorsError, type HostTensor } from '../clip/safetensors.ts';
import type { AdapterParams } from './adapter.ts';

export class AdapterError extends Error {}

export const ADAPTER_FORMAT = 'cocoop-adapter';
export const ADAPTER_VERSION = '1';

export interface AdapterMetadata {
  format: string;
  version: string;
  method: 'cocoop' | 'coop';
  n_ctx: string;
  ctx_init: string;
  base_model_sha256: string;
  class_names: string; // JSON array
  created_at: string;
  [key: string]: string; // training metrics etc., JSON-encoded
}

export interface AdapterFile {
  params: AdapterParams;
  metadata: AdapterMetadata;
  classNames: string[];
}

export function adapterTensors(p: AdapterParams): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = { ctx: p.ctx };
  if (p.method === 'cocoop') {
    if (!p.metaNet) throw new AdapterError('a CoCoOp adapter needs a meta-net');
    out['meta_net.linear1.weight'] = p.metaNet.linear1.weight;
    out['meta_net.linear1.bias'] = p.metaNet.linear1.bias;
    out['meta_net.linear2.weight'] = p.metaNet.linear2.weight;
    out['meta_net.linear2.bias'] = p.metaNet.linear2.bias;
  }
  return out;
}

export function writeAdapter(
  path: string,
  p: AdapterParams,
  info: { baseModelSha256: string; classNames: string[]; metrics?: Record<string, unknown> },
): void {
  const metadata: Record<string, string> = {
    format: ADAPTER_FORMAT,
    version: ADAPTER_VERSION,
    method: p.method,
    n_ctx: String(p.ctx.shape[0]),
    ctx_init: p.ctxInit,
    base_model_sha256: info.baseModelSha256,
    class_names: JSON.stringify(info.classNames),
    created_at: new Date().toISOString(),
  };
  for (const [k, v] of Object.entries(info.metrics ?? {})) metadata[k] = JSON.stringify(v);
  writeSafetensors(path, adapterTensors(p), metadata);
}

function expectShape(path: string, name: string, t: HostTensor | undefined, shape: number[]): HostTensor {
  if (!t) throw new AdapterError(`${path}: adapter has no tensor "${name}"`);
  if (t.shape.length !== shape.length || t.shape.some((x, i) => x !== shape[i])) {
    throw new AdapterError(`${path}: tensor "${name}" has shape [${t.shape}], this base model needs [${shape}]`);
  }
  return t;
}

/**
 * Reads and validates an adapter against the base model (its config and the sha256 of its
 * model.safetensors). Any mismatch is a one-line AdapterError naming the file.
 */
export function readAdapter(path: string, base: { config: ClipConfig; sha256: string }): AdapterFile {
  let file;
  try {
    file = readSafetensors(path);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new AdapterError(`${e.message} (not a valid adapter file)`);
    throw e;
  }
  const m = file.metadata as Partial<AdapterMetadata>;
  if (m.format !== ADAPTER_FORMAT) throw new AdapterError(`${path}: not a cocoop adapter (metadata format is ${JSON.stringify(m.format ?? null)})`);
  if (m.version !== ADAPTER_VERSION) throw new AdapterError(`${path}: adapter format version ${m.version} is not supported (expected ${ADAPTER_VERSION})`);
  if (m.method !== 'cocoop' && m.method !== 'coop') throw new AdapterError(`${path}: unknown adapter method ${JSON.stringify(m.method)}`);
  if (m.base_model_sha256 !== base.sha256) {
    throw new AdapterError(
      `${path}: adapter was trained on another base model (sha256 ${String(m.base_model_sha256).slice(0, 12)}…, this model is ${base.sha256.slice(0, 12)}…)`,
    );
  }
  const d = base.config.text.hiddenSize;
  const vis = base.config.projectionDim;
  const hidden = Math.floor(vis / 16);
  const ctx = file.tensors.get('ctx');
  if (!ctx || ctx.shape.length !== 2 || ctx.shape[0] < 1) throw new AdapterError(`${path}: adapter has no valid "ctx" tensor`);
  expectShape(path, 'ctx', ctx, [ctx.shape[0], d]);
  if (String(ctx.shape[0]) !== m.n_ctx) throw new AdapterError(`${path}: metadata n_ctx=${m.n_ctx} but ctx has ${ctx.shape[0]} rows`);
  const params: AdapterParams = { method: m.method, ctx, ctxInit: m.ctx_init ?? '' };
  if (m.method === 'cocoop') {
    const t = (name: string, shape: number[]) => expectShape(path, name, file.tensors.get(name), shape);
    params.metaNet = {
      linear1: { weight: t('meta_net.linear1.weight', [hidden, vis]), bias: t('meta_net.linear1.bias', [hidden]) },
      linear2: { weight: t('meta_net.linear2.weight', [d, hidden]), bias: t('meta_net.linear2.bias', [d]) },
    };
  }
  let classNames: string[];
  try {
    classNames = JSON.parse(m.class_names ?? '[]');
    if (!Array.isArray(classNames) || classNames.some((c) => typeof c !== 'string')) throw new Error('not a string array');
  } catch {
    throw new AdapterError(`${path}: metadata class_names is not a JSON array of strings`);
  }
  for (const [name, t] of file.tensors) {
    for (const v of t.data) if (!Number.isFinite(v)) throw new AdapterError(`${path}: tensor "${name}" contains NaN or Inf`);
  }
  return { params, metadata: m as AdapterMetadata, classNames };
}
