// package.json "allowScripts" against package-lock.json: which locked packages have install scripts,
// and what the policy decides for each. Mirrors npm's rules (npm help package-json, "allowScripts";
// @npmcli/arborist script-allowed.js): a key is a bare name (any version) or name@exact[ || exact...];
// a `false` entry that matches wins over any `true` entry; no matching entry = unreviewed. npm trusts a
// version only from the lockfile's `resolved` URL: without one (lockfiles written with
// omit-lockfile-registry-resolved, like this repo's) a pinned allow never matches and a pinned deny always does.

export type Decision = 'allowed' | 'denied' | 'unreviewed';

export interface ScriptedPackage {
  name: string;
  version: string;
  /** Where it sits in the lockfile, e.g. node_modules/wrangler/node_modules/esbuild. */
  path: string;
  /** The lockfile records where it came from, so npm can verify its version. */
  verifiableVersion: boolean;
}

export interface PolicyKey {
  name: string;
  /** Exact versions the key names; null = any version. */
  versions: string[] | null;
}

interface LockEntry {
  name?: string;
  resolved?: string;
  version?: string;
  hasInstallScript?: boolean;
  link?: boolean;
  inBundle?: boolean;
}

const EXACT_VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/** Every package that npm would run install scripts for: lockfile `hasInstallScript`, not linked, not bundled. */
export function packagesWithInstallScripts(lock: { packages?: Record<string, LockEntry> }): ScriptedPackage[] {
  const out: ScriptedPackage[] = [];
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (path === '' || !entry.hasInstallScript || entry.link || entry.inBundle) continue;
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    out.push({ name, version: entry.version ?? '', path, verifiableVersion: typeof entry.resolved === 'string' });
  }
  return out;
}

/** Parses an allowScripts key; throws for forms npm ignores (ranges, tags) so they cannot pass as a decision. */
export function parsePolicyKey(key: string): PolicyKey {
  const at = key.indexOf('@', 1);
  if (at === -1) return { name: key, versions: null };
  const name = key.slice(0, at);
  const spec = key.slice(at + 1).trim();
  if (spec === '' || spec === '*') return { name, versions: null };
  const versions = spec.split('||').map((v) => v.trim());
  if (!versions.every((v) => EXACT_VERSION.test(v))) {
    throw new Error(`allowScripts key "${key}": npm accepts only a bare name or exact versions joined by "||"`);
  }
  return { name, versions };
}

function keyMatches(k: PolicyKey, pkg: ScriptedPackage, deny: boolean): boolean {
  if (k.name !== pkg.name) return false;
  if (k.versions === null) return true;
  if (!pkg.verifiableVersion) return deny; // fail closed
  return k.versions.includes(pkg.version);
}

export function decide(pkg: ScriptedPackage, policy: Record<string, boolean>): Decision {
  let allow = false;
  for (const [key, value] of Object.entries(policy)) {
    if (!keyMatches(parsePolicyKey(key), pkg, value === false)) continue;
    if (value === false) return 'denied';
    if (value === true) allow = true;
  }
  return allow ? 'allowed' : 'unreviewed';
}

/** Policy keys that decide nothing in this lockfile (stale after an upgrade or removal). */
export function unusedKeys(policy: Record<string, boolean>, pkgs: ScriptedPackage[]): string[] {
  return Object.entries(policy)
    .filter(([key, value]) => !pkgs.some((p) => keyMatches(parsePolicyKey(key), p, value === false)))
    .map(([key]) => key);
}

export function label(p: ScriptedPackage): string {
  return `${p.name}@${p.version} (${p.path})`;
}
