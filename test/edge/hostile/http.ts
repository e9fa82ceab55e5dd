// Raw HTTP for the hostile-input corpus (test/edge/hostile/suite.ts): one request per fresh connection through
// node:http, so paths, bodies and headers go out exactly as written (no URL normalisation, any Content-Length or
// Content-Type); multipart bodies written byte by byte; image bytes that lie about their size or are cut short.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { deflateSync } from 'node:zlib';

export const SQL = "'; DROP TABLE tenants;--";
export const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** The edge the requests go to (set by the suite once it runs). */
export const target = { port: 0 };

// ---- raw HTTP -------------------------------------------------------------------------------

export interface Req {
  method: string;
  /** Sent as is (not normalised). */
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
}

export interface Res {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** One request on a fresh connection; an early answer (e.g. 413 before the body is read) is still returned. */
export function send(r: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    const body = r.body === undefined ? undefined : typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : Buffer.from(r.body);
    const headers: Record<string, string> = { ...r.headers };
    if (body && !r.chunked && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
      headers['content-length'] = String(body.length);
    }
    let answered = false;
    const req = httpRequest({ host: '127.0.0.1', port: target.port, method: r.method, path: r.path, headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`${r.method} ${r.path.slice(0, 80)}: no answer within 20 s`)));
    // The server may answer and close before the whole body is written (EPIPE/ECONNRESET afterwards).
    req.on('error', (err) => {
      if (!answered) setTimeout(() => (answered ? undefined : reject(err)), 50);
    });
    if (body && r.chunked) {
      const step = 256 * 1024;
      for (let off = 0; off < body.length; off += step) req.write(body.subarray(off, off + step));
      req.end();
    } else {
      req.end(body);
    }
  });
}

export const auth = (token: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, ...extra });
export const jsonH = (token: string, extra: Record<string, string> = {}) => auth(token, { 'content-type': 'application/json', ...extra });
export const postJson = (token: string, path: string, body: unknown, extra: Record<string, string> = {}): Req => ({
  method: 'POST',
  path,
  headers: jsonH(token, extra),
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
export const rawJson = (token: string, path: string, body: string | Uint8Array): Req => ({ method: 'POST', path, headers: jsonH(token), body });

export async function ok<T>(r: Req, status: number): Promise<T> {
  const res = await send(r);
  if (res.status !== status) throw new Error(`${r.method} ${r.path}: expected ${status}, got ${res.status}: ${res.text.slice(0, 300)}`);
  return (res.text ? JSON.parse(res.text) : null) as T;
}

// ---- multipart ------------------------------------------------------------------------------

export interface Part {
  name: string;
  filename?: string;
  type?: string;
  data: Uint8Array | string;
}

export const BOUNDARY = '----hostile-boundary-7f3a';

export function multipartBytes(parts: Part[], boundary = BOUNDARY): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.type) head += `Content-Type: ${p.type}\r\n`;
    out.push(Buffer.from(head + '\r\n', 'latin1'), Buffer.from(p.data), Buffer.from('\r\n'));
  }
  out.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(out);
}

export const upload = (token: string, datasetId: string, parts: Part[], extra: Record<string, string> = {}): Req => ({
  method: 'POST',
  path: `/v1/datasets/${datasetId}/images`,
  headers: auth(token, { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, ...extra }),
  body: multipartBytes(parts),
});
export const filePart = (data: Uint8Array | string, filename = 'x.png', type = 'image/png'): Part => ({ name: 'file', filename, type, data });
export const labelPart = (label: string | Uint8Array): Part => ({ name: 'label', data: label });

// ---- image bytes ----------------------------------------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), Buffer.from(data)]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** A structurally complete PNG (valid CRCs) whose IHDR declares width × height: a decompression bomb when large. */
export function pngDeclaring(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(64))),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}
/** A JPEG whose SOF0 declares width × height (16 bits each). */
export function jpegDeclaring(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i < out.length - 9; i++) {
    if (out[i] === 0xff && out[i + 1] === 0xc0) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
  }
  throw new Error('no SOF0 in the JPEG');
}
/** A WebP with a VP8X header whose canvas is width × height (24 bits each). */
export function webpVp8xDeclaring(width: number, height: number): Buffer {
  const b = Buffer.alloc(30);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(22, 4);
  b.write('WEBPVP8X', 8, 'latin1');
  b.writeUInt32LE(10, 16);
  b.writeUIntLE(width - 1, 24, 3);
  b.writeUIntLE(height - 1, 27, 3);
  return b;
}
/** A WebP lossless (VP8L) header declaring width × height (14 bits each). */
export function webpVp8lDeclaring(width: number, height: number): Buffer {
  const b = Buffer.alloc(30);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(22, 4);
  b.write('WEBPVP8L', 8, 'latin1');
  b.writeUInt32LE(10, 16);
  b[20] = 0x2f;
  b.writeUInt32LE(((width - 1) | ((height - 1) << 14)) >>> 0, 21);
  return b;
}
export function pseudoRandom(n: number, seed = 7): Buffer {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

export const GIF = Buffer.concat([Buffer.from('GIF89a', 'latin1'), Buffer.from([1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21, 0xf9, 4, 1, 0, 0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3b])]);
export const BMP = (() => {
  const b = Buffer.alloc(58);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(58, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(1, 18);
  b.writeInt32LE(1, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  return b;
})();
export const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><script>alert(1)</script><rect width="8" height="8"/></svg>';
