// Standard Webhooks signing (https://www.standardwebhooks.com/) with Web Crypto only, so the same code
// runs on Cloudflare Workers and Node.
//
// Secret: `whsec_` + base64 of 24..64 random bytes (we make 32). The HMAC key is the decoded bytes.
// Signature: `v1,` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")). During a secret
// rotation the header carries several signatures separated by single spaces (new secret first).

export const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;
const encoder = new TextEncoder();

export function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function fromBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A new endpoint secret: `whsec_<base64 of 32 random bytes>`. */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

/** The HMAC key bytes of a `whsec_…` secret; throws on a malformed secret. */
export function secretKeyBytes(secret: string): Uint8Array {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('webhook secret must start with "whsec_"');
  const body = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new Error('webhook secret is not base64 after "whsec_"');
  const bytes = fromBase64(body);
  if (bytes.length < 24 || bytes.length > 64) throw new Error('webhook secret must hold 24..64 bytes');
  return bytes;
}

/** The content signed for one attempt. */
export function signedContent(msgId: string, timestampSeconds: number, body: string): string {
  return `${msgId}.${timestampSeconds}.${body}`;
}

/** One `v1,<base64>` signature of (id, timestamp, body) with `secret`. */
export async function signWebhook(secret: string, msgId: string, timestampSeconds: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    'raw',
    secretKeyBytes(secret) as BufferSource,
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const mac = await crypto.subtle.sign('HMAC', key, encoder.encode(signedContent(msgId, timestampSeconds, body)));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

/** The `webhook-signature` header value: one signature per secret, space-separated, in the given order. */
export async function signatureHeader(secrets: string[], msgId: string, timestampSeconds: number, body: string): Promise<string> {
  const sigs = await Promise.all(secrets.map((s) => signWebhook(s, msgId, timestampSeconds, body)));
  return sigs.join(' ');
}

/** The three Standard Webhooks headers (plus content-type) for one attempt. */
export async function webhookHeaders(
  secrets: string[],
  msgId: string,
  timestampSeconds: number,
  body: string,
): Promise<Record<string, string>> {
  return {
    'content-type': 'application/json',
    'webhook-id': msgId,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': await signatureHeader(secrets, msgId, timestampSeconds, body),
  };
}
