// The S3 XML the Workers blob store (aws4fetch-blob-store.ts) writes and reads without an XML library: escaping, the
// text of a flat element (error and DeleteObjects result documents), and the ListBucketResult of ListObjects.
import type { BlobListPage } from './blob-store.ts';

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

export function xmlUnescape(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-fA-F]+);/g, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#([0-9]+);/g, (_, dec: string) => String.fromCodePoint(parseInt(dec, 10)))
    .replace(/&amp;/g, '&');
}

/** Text of the first <tag>…</tag> in `xml` (S3 error and result documents are flat enough for this). */
export function xmlTag(xml: string, tag: string): string | null {
  const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return m ? xmlUnescape(m[1]) : null;
}

/**
 * The page of a ListObjects (version 1) answer: every <Contents> entry's Key, Size and LastModified, and the cursor
 * (NextMarker, else the last key) when IsTruncated. Throws on a document that is not a ListBucketResult or on an entry
 * without a key, a date or a size, rather than guess (a wrong date could make an object look old).
 */
export function parseListBucketResult(xml: string): BlobListPage {
  if (!/<ListBucketResult[\s>]/.test(xml)) throw new Error('not a ListBucketResult document');
  const objects = [...xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)].map((m) => {
    const key = xmlTag(m[1], 'Key');
    const size = xmlTag(m[1], 'Size');
    const modified = xmlTag(m[1], 'LastModified');
    const lastModified = new Date(modified ?? '');
    if (key === null || key === '' || size === null || !/^\d+$/.test(size.trim()) || Number.isNaN(lastModified.getTime())) {
      throw new Error(`a <Contents> entry without a valid Key, Size and LastModified: ${m[1].slice(0, 200)}`);
    }
    return { key, size: Number(size.trim()), lastModified };
  });
  const truncated = xmlTag(xml, 'IsTruncated')?.trim() === 'true';
  const last = xmlTag(xml, 'NextMarker') || objects.at(-1)?.key;
  if (truncated && !last) throw new Error('a truncated ListBucketResult without keys');
  return { objects, cursor: truncated ? (last as string) : null };
}
