// infra/docker/compose.yaml as the tests read it: parsed with yaml (merge keys on), variables interpolated the way
// Compose does (${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}), and
// infra/docker/.env.example's names.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../helpers/processes.ts';

export const COMPOSE_PATH = 'infra/docker/compose.yaml';
export const ENV_EXAMPLE_PATH = 'infra/docker/.env.example';

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
  profiles?: string[];
  deploy?: { replicas?: number | string };
  volumes?: string[];
  ports?: string[];
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export function composeText(): string {
  return readFileSync(join(ROOT, COMPOSE_PATH), 'utf8');
}

/** The compose file as written (variables not interpolated). */
export function readCompose(): ComposeFile {
  return parse(composeText(), { merge: true }) as ComposeFile;
}

const VARIABLE = /\$\{(\w+)(?:(:?[-?])([^}]*))?\}/g;

/** The names of the variables the compose file interpolates. */
export function composeVariables(): string[] {
  return [...new Set([...composeText().matchAll(VARIABLE)].map((m) => m[1]!))].sort();
}

/** Compose's interpolation of one value; throws like `docker compose` does for ${NAME:?message}. */
export function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(VARIABLE, (_m, name: string, op: string | undefined, arg: string | undefined) => {
    const v = vars[name];
    const missing = op?.startsWith(':') ? !v : v === undefined;
    if (op?.endsWith('?') && missing) throw new Error(`compose: ${arg || `${name} is required`}`);
    if (op?.endsWith('-') && missing) return arg ?? '';
    return v ?? '';
  });
}

/** A service's environment after interpolation with `vars` (what its container would get from compose). */
export function serviceEnvironment(service: ComposeService, vars: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(service.environment ?? {})) out[k] = interpolate(String(v ?? ''), vars);
  return out;
}

/** infra/docker/.env.example: each NAME=value line (NAME is also given for commented `# NAME=value` lines). */
export function envExample(): { name: string; value: string; commented: boolean }[] {
  const out: { name: string; value: string; commented: boolean }[] = [];
  for (const line of readFileSync(join(ROOT, ENV_EXAMPLE_PATH), 'utf8').split('\n')) {
    const m = line.match(/^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/);
    if (m) out.push({ name: m[2]!, value: m[3]!, commented: Boolean(m[1]) });
  }
  return out;
}
