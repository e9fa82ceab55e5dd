// Where `cocoop remote` finds the API and its key: --base-url / --api-key, else COCOOP_BASE_URL / COCOOP_API_KEY, else
// the config file `cocoop remote login` writes ($XDG_CONFIG_HOME/cocoop/config.json, default ~/.config/cocoop/...).
// The file holds a secret: it is written with mode 0600 (its folder 0700), and one that group or others may access is
// refused rather than read, as ssh does with its keys.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError, stringOption, type Values } from './args.ts';

export interface Credentials {
  baseURL: string;
  apiKey: string;
}

interface ConfigFile {
  base_url?: unknown;
  api_key?: unknown;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'cocoop', 'config.json');
}

/** The key as it may be shown: its first characters (`ck_live_` and 4 more, as the API lists keys), then "…". */
export function keyPrefix(key: string): string {
  return `${key.slice(0, Math.min(12, Math.floor(key.length / 3)))}…`;
}

/** The config file's settings; undefined when there is none. Refuses a file group or others may access. */
export function readConfigFile(path: string): { baseURL?: string; apiKey?: string } | undefined {
  if (!existsSync(path)) return undefined;
  const mode = statSync(path).mode & 0o777;
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new CliError(`${path} is accessible by group or others (mode ${mode.toString(8).padStart(4, '0')}), so it is not read: run chmod 600 ${path}`);
  }
  let parsed: ConfigFile;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as ConfigFile;
  } catch (e) {
    throw new CliError(`${path} is not a JSON config file (${(e as Error).message}): run cocoop remote login again`);
  }
  return {
    ...(typeof parsed.base_url === 'string' ? { baseURL: parsed.base_url } : {}),
    ...(typeof parsed.api_key === 'string' ? { apiKey: parsed.api_key } : {}),
  };
}

/** The base URL, trailing slashes removed; a usage problem when it is no http(s) URL. */
export function checkBaseURL(url: string, where: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(`${where}: "${url}" is not a URL (e.g. https://api.example.com)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new CliError(`${where}: "${url}" is not an http(s) URL`);
  return url.replace(/\/+$/, '');
}

/** Options first, then the environment, then the config file (read only when something is still missing). */
export function resolveCredentials(values: Values, env: NodeJS.ProcessEnv = process.env): Credentials {
  let baseURL = stringOption(values, 'base-url') || env.COCOOP_BASE_URL || undefined;
  let apiKey = stringOption(values, 'api-key') || env.COCOOP_API_KEY || undefined;
  let where = stringOption(values, 'base-url') ? '--base-url' : 'COCOOP_BASE_URL';
  if (!baseURL || !apiKey) {
    const path = configPath(env);
    const file = readConfigFile(path);
    if (!baseURL && file?.baseURL) [baseURL, where] = [file.baseURL, path];
    apiKey ||= file?.apiKey;
  }
  const login = 'or run cocoop remote login --base-url URL --api-key KEY';
  if (!baseURL) throw new CliError(`no API base URL: pass --base-url URL, set COCOOP_BASE_URL, ${login}`);
  if (!apiKey) throw new CliError(`no API key: pass --api-key KEY, set COCOOP_API_KEY, ${login}`);
  return { baseURL: checkBaseURL(baseURL, where), apiKey };
}

/** Writes the config file with mode 0600 (through a temporary file: an existing file with wider modes is replaced). */
export function writeConfigFile(path: string, credentials: Credentials): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ base_url: credentials.baseURL, api_key: credentials.apiKey }, null, 2) + '\n', { mode: 0o600, flag: 'w' });
  chmodSync(tmp, 0o600); // an existing temporary file keeps its mode: make sure
  renameSync(tmp, path);
}

/** Removes the config file; false when there was none. */
export function removeConfigFile(path: string): boolean {
  if (!existsSync(path)) return false;
  rmSync(path);
  return true;
}
