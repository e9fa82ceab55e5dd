// Reading settings from the environment with one clear error per bad value.

type Env = Record<string, string | undefined>;

/** An integer in [min, max] from env[name]; `fallback` when unset or empty. */
export function intFromEnv(env: Env, name: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const v = env[name];
  if (v === undefined || v.trim() === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** A TCP port (0..65535; 0 = any free port) from env[name]. */
export function portFromEnv(env: Env, name: string, fallback: number): number {
  return intFromEnv(env, name, fallback, 0, 65535);
}

/** "true"/"1" or "false"/"0" (any case) from env[name]; `fallback` when unset or empty. */
export function flagFromEnv(env: Env, name: string, fallback: boolean): boolean {
  const v = env[name]?.trim().toLowerCase();
  if (!v) return fallback;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new Error(`${name} must be true/1 or false/0, got ${JSON.stringify(env[name])}`);
}
