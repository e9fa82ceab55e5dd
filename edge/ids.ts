// Resource ids and API keys. Web Crypto only (runs on Workers and Node).
//
// Id = `<prefix>_` + 9 base36 chars of unix ms + 12 random base36 chars, all lowercase, e.g.
// `ds_0m3k9x2qa4f7hz81kd0p3q`. Fixed width and one case, so the byte order of ids (SQL `ORDER BY id`,
// cursor `id > ?`) is their creation order to the millisecond; within one process ids made in the
// same millisecond are increasing too (the random part is incremented, as ULIDs do).
import { randomString, sha256Hex } from './crypto.ts';

export const ID_PREFIXES = {
  tenant: 'ten',
  apiKey: 'key',
  dataset: 'ds',
  image: 'img',
  job: 'job',
  evaluation: 'eval',
  model: 'mdl',
  webhookEndpoint: 'whe',
  webhookMessage: 'msg',
  event: 'evt',
  workerToken: 'wkr',
  auditEvent: 'aud',
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';
const TIME_LEN = 9; // 36^9 ms reaches the year 5138
const RAND_LEN = 12; // ~62 bits

let lastMs = -1;
let lastRand = '';

/** The base36 successor of `s` (same length), or null when `s` is all 'z'. */
function increment(s: string): string | null {
  const chars = s.split('');
  for (let i = chars.length - 1; i >= 0; i--) {
    const d = BASE36.indexOf(chars[i]);
    if (d < 35) {
      chars[i] = BASE36[d + 1];
      return chars.join('');
    }
    chars[i] = '0';
  }
  return null;
}

/** The time-ordered body of an id (no prefix). `now` is injectable for tests. */
export function timeOrderedId(now: number = Date.now()): string {
  let ms = Math.max(Math.floor(now), lastMs);
  let rand: string | null;
  if (ms === lastMs) {
    rand = increment(lastRand);
    if (rand === null) {
      ms += 1;
      rand = randomString(RAND_LEN, BASE36);
    }
  } else {
    rand = randomString(RAND_LEN, BASE36);
  }
  lastMs = ms;
  lastRand = rand;
  return ms.toString(36).padStart(TIME_LEN, '0') + rand;
}

export function newId(kind: IdKind, now?: number): string {
  return `${ID_PREFIXES[kind]}_${timeOrderedId(now)}`;
}

/** The unix ms encoded in an id made by newId, or null when it is not one. */
export function idTime(id: string): number | null {
  const m = /^[a-z]+_([0-9a-z]{9})[0-9a-z]{12}$/.exec(id);
  return m ? parseInt(m[1], 36) : null;
}

// ---- API keys -------------------------------------------------------------------------------

export const API_KEY_PREFIX = 'ck_live_';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const API_KEY_RANDOM_LEN = 32; // ~190 bits
/** Characters of a key kept in the database for display (`ck_live_` + 4). */
export const API_KEY_DISPLAY_LEN = API_KEY_PREFIX.length + 4;

export const API_KEY_PATTERN = /^ck_live_[0-9A-Za-z]{32}$/;

export interface NewApiKey {
  /** The secret, shown to the client once. */
  key: string;
  /** sha256 hex of the key: what the database stores and looks up by. */
  hash: string;
  /** The first characters, for display. */
  prefix: string;
}

export async function newApiKey(): Promise<NewApiKey> {
  const key = API_KEY_PREFIX + randomString(API_KEY_RANDOM_LEN, BASE62);
  return { key, hash: await hashApiKey(key), prefix: key.slice(0, API_KEY_DISPLAY_LEN) };
}

export function hashApiKey(key: string): Promise<string> {
  return sha256Hex(key);
}
