// An independent SigV4 presigned-URL check for tests (written from AWS's spec, not from the SDK): s3rver checks only
// a presigned URL's expiry, never its signature, so tests verify signatures themselves.
import { createHash, createHmac } from 'node:crypto';

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

/**
 * True when the X-Amz-Signature of `signedUrl` is what S3 computes for a PUT to `sentUrl` (default: the same URL;
 * its host and path are what the request names) sending `headers`.
 */
export function sigV4Matches(signedUrl: string, headers: Record<string, string>, secretAccessKey: string, sentUrl: string = signedUrl): boolean {
  const signed = new URL(signedUrl);
  const sent = new URL(sentUrl);
  const q = signed.searchParams;
  const signedHeaders = q.get('X-Amz-SignedHeaders')!.split(';');
  const all: Record<string, string> = { host: sent.host };
  for (const [k, v] of Object.entries(headers)) all[k.toLowerCase()] = v.trim();
  const canonicalQuery = [...q.entries()]
    .filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => [rfc3986(k), rfc3986(v)])
    .sort(([x], [y]) => (x! < y! ? -1 : x! > y! ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalRequest = [
    'PUT',
    sent.pathname,
    canonicalQuery,
    signedHeaders.map((h) => `${h}:${all[h] ?? ''}\n`).join(''),
    signedHeaders.join(';'),
    q.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD',
  ].join('\n');
  const [, date, region, service] = q.get('X-Amz-Credential')!.split('/');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', q.get('X-Amz-Date')!, scope, sha256hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac('AWS4' + secretAccessKey, date!), region!), service!), 'aws4_request');
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex') === q.get('X-Amz-Signature');
}
