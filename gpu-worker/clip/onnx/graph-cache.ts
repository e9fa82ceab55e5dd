// On-disk cache of built ONNX graphs, keyed by tower, builder version and the weights' hash:
//   <cacheDir>/clip-<kind>-g<GRAPH_BUILDER_VERSION>-<weightsSha256>.onnx
// Written atomically (temporary file + rename), so concurrent builders never expose a partial file.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Bump whenever the graphs change (ops, layout, semantics): old cache files are then ignored. */
export const GRAPH_BUILDER_VERSION = 1;

export type GraphKind = 'text' | 'vision' | 'text-prefix' | 'text-suffix' | 'text-vjp' | 'text-suffix-vjp' | 'text-prefix-vjp' | 'cocoop-step';

export function graphFileName(kind: GraphKind, weightsSha256: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(weightsSha256)) throw new Error(`graph cache: invalid weights hash ${JSON.stringify(weightsSha256)}`);
  return `clip-${kind}-g${GRAPH_BUILDER_VERSION}-${weightsSha256}.onnx`;
}

/** Path of the cached graph, building and writing it first when absent. */
export function getOrBuildGraph(kind: GraphKind, weightsSha256: string, cacheDir: string, build: () => Uint8Array): string {
  const path = join(cacheDir, graphFileName(kind, weightsSha256));
  if (existsSync(path)) return path;
  mkdirSync(cacheDir, { recursive: true });
  const bytes = build();
  const tmp = `${path}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return path;
}
