// Web Crypto helpers (globalThis.crypto: the same code runs on Cloudflare Workers and Node >= 20).
// No node: imports here.

const encoder = new TextEncoder();

/** Lowercase hex SHA-256 of a string (UTF-8) or bytes. */
export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  const digest = await crypto.subtle.digest('SHA-256', bytes as BufferSource);
  return toHex(new Uint8Array(digest));
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/**
 * `n` characters drawn uniformly from `alphabet` (at most 256 symbols). Rejection sampling: a byte is
 * used only below the largest multiple of the alphabet size, so no symbol is more likely than another.
 */
export function randomString(n: number, alphabet: string): string {
  const size = alphabet.length;
  if (size < 2 || size > 256) throw new Error(`randomString: alphabet must have 2..256 symbols, got ${size}`);
  const limit = 256 - (256 % size);
  let out = '';
  while (out.length < n) {
    // getRandomValues fills at most 65536 bytes per call.
    const buf = crypto.getRandomValues(new Uint8Array(Math.min(65536, Math.ceil((n - out.length) * 1.25) + 4)));
    for (const b of buf) {
      if (b >= limit) continue;
      out += alphabet[b % size];
      if (out.length === n) break;
    }
  }
  return out;
}

/**
 * Constant-time equality of two byte strings: the time depends only on the lengths, never on where
 * the contents differ. (A length difference is not secret for our tokens; the loop still runs over
 * the longer input so the comparison does no early exit.)
 */
export function timingSafeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  const n = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < n; i++) diff |= (a[i % (a.length || 1)] ?? 0) ^ (b[i % (b.length || 1)] ?? 0);
  return diff === 0;
}

/** Constant-time equality of two strings, compared as UTF-8 bytes. */
export function timingSafeEqual(a: string, b: string): boolean {
  return timingSafeEqualBytes(encoder.encode(a), encoder.encode(b));
}
