/**
 * Reader/writer for the safetensors format.
 *
 * Layout: an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON
 * header, then the data section. Every header entry other than
 * `__metadata__` is `{dtype, shape, data_offsets: [begin, end]}` with offsets
 * relative to the start of the data section.
 *
 * Floating tensors (F32, F16, BF16) are decoded to Float32Array. Every
 * structural problem raises a SafetensorsError whose one-line message starts
 * with the file name.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

export type Dtype = 'F32' | 'F16' | 'BF16';

export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, HostTensor>;
  /** On-disk dtype of every tensor in `tensors`. */
  dtypes: Map<string, string>;
  metadata: Record<string, string>;
}

export interface ReadOptions {
  /** Only tensors for which this returns true are decoded; the rest are skipped (still validated structurally). */
  only?: (name: string) => boolean;
}

/** Larger headers are treated as corruption rather than allocated. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Element sizes of every dtype the format defines (sub-byte dtypes omitted: their size can't be checked this way). */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
  C64: 8,
};

const SUPPORTED_DTYPES = new Set<string>(['F32', 'F16', 'BF16']);

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------
// Half-precision helpers
// ---------------------------------------------------------------------------

let f16Table: Float32Array | null = null;

function decodeF16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero / subnormal
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Lookup table mapping every f16 bit pattern to its f32 value (256 KiB, built once). */
function getF16Table(): Float32Array {
  if (f16Table === null) {
    const t = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = decodeF16Bits(h);
    f16Table = t;
  }
  return f16Table;
}

const convF32 = new Float32Array(1);
const convU32 = new Uint32Array(convF32.buffer);

/** f32 bits → f16 bits, round-to-nearest-even, overflow → ±Inf, NaN stays NaN. */
function f32BitsToF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | (mant === 0 ? 0x7c00 : 0x7e00 | (mant >>> 13));
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e >= 1) {
    let h = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry into the exponent is correct (may give Inf)
    return sign | h;
  }
  // Result is subnormal (or zero) in f16.
  if (e < -10) return sign; // below half the smallest subnormal
  const m = mant | 0x800000;
  const shift = 14 - e; // 14..24
  let h = m >>> shift;
  const rem = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && (h & 1) === 1)) h++; // may round up to the smallest normal: still correct
  return sign | h;
}

/** f32 bits → bf16 bits, round-to-nearest-even, NaN kept quiet. */
function f32BitsToBF16(bits: number): number {
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return ((bits >>> 16) | 0x0040) & 0xffff;
  const lsb = (bits >>> 16) & 1;
  return (((bits >>> 0) + 0x7fff + lsb) >>> 16) & 0xffff;
}

export function f32ToF16(x: number): number {
  convF32[0] = x;
  return f32BitsToF16(convU32[0]);
}

export function f16ToF32(h: number): number {
  return getF16Table()[h & 0xffff];
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** Copy `byteLength` bytes at `offset` of `bytes` into a fresh, aligned ArrayBuffer. */
function copyBytes(bytes: Uint8Array, offset: number, byteLength: number): ArrayBuffer {
  const out = new ArrayBuffer(byteLength);
  new Uint8Array(out).set(bytes.subarray(offset, offset + byteLength));
  return out;
}

function decodeF32(bytes: Uint8Array, offset: number, n: number, share: boolean): Float32Array {
  const abs = bytes.byteOffset + offset;
  if (LITTLE_ENDIAN_HOST) {
    if (share && abs % 4 === 0) return new Float32Array(bytes.buffer, abs, n);
    return new Float32Array(copyBytes(bytes, offset, n * 4));
  }
  const out = new Float32Array(n);
  const dv = new DataView(bytes.buffer, abs, n * 4);
  for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

function readU16(bytes: Uint8Array, offset: number, n: number): Uint16Array {
  const abs = bytes.byteOffset + offset;
  if (LITTLE_ENDIAN_HOST) {
    if (abs % 2 === 0) return new Uint16Array(bytes.buffer, abs, n);
    return new Uint16Array(copyBytes(bytes, offset, n * 2));
  }
  const out = new Uint16Array(n);
  const dv = new DataView(bytes.buffer, abs, n * 2);
  for (let i = 0; i < n; i++) out[i] = dv.getUint16(i * 2, true);
  return out;
}

function decodeF16(bytes: Uint8Array, offset: number, n: number): Float32Array {
  const src = readU16(bytes, offset, n);
  const table = getF16Table();
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = table[src[i]];
  return out;
}

function decodeBF16(bytes: Uint8Array, offset: number, n: number): Float32Array {
  const src = readU16(bytes, offset, n);
  const out = new Float32Array(n);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) outBits[i] = src[i] << 16;
  return out;
}

/**
 * Parse a complete safetensors file held in memory. F32 tensors whose data is
 * 4-byte aligned may be views into `bytes` (no copy) when most of the file is
 * being decoded; otherwise tensors own their storage.
 */
export function parseSafetensors(bytes: Uint8Array, sourceName?: string, opts: ReadOptions = {}): SafetensorsFile {
  const src = sourceName ?? '<safetensors buffer>';
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${src}: ${msg}`);
  };

  if (bytes.byteLength < 8) fail(`file too short: ${bytes.byteLength} bytes, need at least 8 for the header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLenBig = dv.getBigUint64(0, true);
  if (headerLenBig > BigInt(MAX_HEADER_BYTES)) {
    fail(`header length ${headerLenBig} is absurd (limit ${MAX_HEADER_BYTES} bytes); not a safetensors file or corrupt`);
  }
  const headerLen = Number(headerLenBig);
  if (8 + headerLen > bytes.byteLength) {
    fail(`truncated: header length ${headerLen} exceeds the ${bytes.byteLength - 8} bytes after the length field (expected at least ${8 + headerLen} bytes, file has ${bytes.byteLength})`);
  }
  if (headerLen < 2) fail(`header length ${headerLen} is too small to hold a JSON object`);

  let headerText: string;
  try {
    headerText = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    return fail('header is not valid UTF-8');
  }
  // The format pads with spaces; tolerate trailing NULs some writers emit.
  headerText = headerText.replace(/\0+$/, '');
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (!isPlainObject(header)) fail(`header JSON must be an object, got ${Array.isArray(header) ? 'an array' : header === null ? 'null' : typeof header}`);
  const hdr = header as Record<string, unknown>;

  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;

  // Metadata.
  const metadata: Record<string, string> = {};
  if (Object.prototype.hasOwnProperty.call(hdr, '__metadata__')) {
    const m = hdr.__metadata__;
    if (!isPlainObject(m)) fail('"__metadata__" must be an object mapping strings to strings');
    for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
      if (typeof v !== 'string') fail(`"__metadata__" value for key ${JSON.stringify(k)} must be a string, got ${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v}`);
      metadata[k] = v as string;
    }
  }

  // Entries.
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(hdr)) {
    if (name === '__metadata__') continue;
    const t = JSON.stringify(name);
    if (!isPlainObject(raw)) fail(`tensor ${t}: header entry must be an object`);
    const info = raw as Record<string, unknown>;
    for (const field of ['dtype', 'shape', 'data_offsets']) {
      if (!(field in info)) fail(`tensor ${t}: header entry is missing "${field}"`);
    }
    const dtype = info.dtype;
    if (typeof dtype !== 'string' || dtype.length === 0) fail(`tensor ${t}: "dtype" must be a non-empty string`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
      fail(`tensor ${t}: "shape" must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !isNonNegInt(offs[0]) || !isNonNegInt(offs[1])) {
      fail(`tensor ${t}: "data_offsets" must be two non-negative integers, got ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end) fail(`tensor ${t}: data_offsets begin ${begin} is after end ${end}`);
    if (end > dataLen) {
      fail(`truncated: tensor ${t} ends at byte ${end} but the data section has ${dataLen} bytes (expected file size at least ${dataStart + end}, actual ${bytes.byteLength})`);
    }
    const elemSize = DTYPE_BYTES[dtype as string];
    if (elemSize !== undefined) {
      let count = 1;
      for (const d of shape as number[]) count *= d;
      const expected = count * elemSize;
      if (!Number.isSafeInteger(expected) || expected !== end - begin) {
        fail(`tensor ${t}: byte length ${end - begin} does not match shape ${JSON.stringify(shape)} × ${dtype} (${elemSize} bytes) = ${expected} bytes`);
      }
    }
    entries.push({ name, dtype: dtype as string, shape: (shape as number[]).slice(), begin, end });
  }

  // Overlaps (zero-length tensors can't overlap anything).
  const byBegin = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < byBegin.length; i++) {
    const prev = byBegin[i - 1];
    const cur = byBegin[i];
    if (cur.begin < prev.end) {
      fail(`tensors ${JSON.stringify(prev.name)} [${prev.begin}, ${prev.end}) and ${JSON.stringify(cur.name)} [${cur.begin}, ${cur.end}) overlap`);
    }
  }

  // Selection and dtype support.
  const selected = opts.only ? entries.filter((e) => opts.only!(e.name)) : entries;
  let selectedBytes = 0;
  for (const e of selected) {
    if (!SUPPORTED_DTYPES.has(e.dtype)) {
      fail(`tensor ${JSON.stringify(e.name)} has unsupported dtype ${e.dtype} (supported: F32, F16, BF16); exclude it with the "only" filter`);
    }
    selectedBytes += e.end - e.begin;
  }
  // Share storage with `bytes` only when most of it is being kept anyway, so a
  // small selection doesn't pin a large file buffer in memory.
  const share = selectedBytes * 2 >= dataLen;

  const tensors = new Map<string, HostTensor>();
  const dtypes = new Map<string, string>();
  for (const e of selected) {
    const off = dataStart + e.begin;
    const nbytes = e.end - e.begin;
    let data: Float32Array;
    switch (e.dtype) {
      case 'F32':
        data = decodeF32(bytes, off, nbytes / 4, share);
        break;
      case 'F16':
        data = decodeF16(bytes, off, nbytes / 2);
        break;
      default:
        data = decodeBF16(bytes, off, nbytes / 2);
        break;
    }
    tensors.set(e.name, { shape: e.shape, data });
    dtypes.set(e.name, e.dtype);
  }
  return { tensors, dtypes, metadata };
}

/** Read and parse a safetensors file (one read of the whole file). */
export function readSafetensors(filePath: string, opts: ReadOptions = {}): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(filePath);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new SafetensorsError(`${filePath}: cannot read file (${err.code ?? err.message})`);
  }
  return parseSafetensors(bytes, filePath, opts);
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

type TensorInput = Map<string, HostTensor> | Record<string, HostTensor>;

interface Plan {
  header: Uint8Array; // length prefix + padded JSON
  items: { name: string; tensor: HostTensor; bytes: number }[];
  dataBytes: number;
}

function planWrite(tensors: TensorInput, metadata: Record<string, string> | undefined, dtype: Dtype, dest: string): Plan {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${dest}: ${msg}`);
  };
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') fail(`unsupported output dtype ${String(dtype)}`);
  const elemSize = dtype === 'F32' ? 4 : 2;
  const pairs: [string, HostTensor][] = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') fail(`metadata value for key ${JSON.stringify(k)} must be a string`);
    }
    header.__metadata__ = { ...metadata };
  }
  const items: Plan['items'] = [];
  let offset = 0;
  for (const [name, tensor] of pairs) {
    const t = JSON.stringify(name);
    if (name === '__metadata__') fail('a tensor cannot be named "__metadata__"');
    if (!tensor || !(tensor.data instanceof Float32Array)) fail(`tensor ${t}: data must be a Float32Array`);
    if (!Array.isArray(tensor.shape) || !tensor.shape.every(isNonNegInt)) {
      fail(`tensor ${t}: shape must be an array of non-negative integers, got ${JSON.stringify(tensor.shape)}`);
    }
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (count !== tensor.data.length) fail(`tensor ${t}: shape ${JSON.stringify(tensor.shape)} has ${count} elements but data has ${tensor.data.length}`);
    const nbytes = count * elemSize;
    header[name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + nbytes] };
    items.push({ name, tensor, bytes: nbytes });
    offset += nbytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length);
  return { header: out, items, dataBytes: offset };
}

/** Encode one tensor's data in the target dtype as little-endian bytes. May return a view of the tensor's storage. */
function encodeTensor(data: Float32Array, dtype: Dtype): Uint8Array {
  if (dtype === 'F32') {
    if (LITTLE_ENDIAN_HOST) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const out = new Uint8Array(data.length * 4);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i], true);
    return out;
  }
  const bits = new Uint32Array(data.length);
  // Copy the f32 bit patterns (handles arbitrary byteOffset of `data`).
  new Float32Array(bits.buffer).set(data);
  const out = new Uint8Array(data.length * 2);
  const conv = dtype === 'F16' ? f32BitsToF16 : f32BitsToBF16;
  for (let i = 0; i < data.length; i++) {
    const h = conv(bits[i]);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

/** Serialize tensors (sorted by name) into a complete safetensors file image. */
export function serializeSafetensors(tensors: TensorInput, metadata?: Record<string, string>, dtype: Dtype = 'F32'): Uint8Array {
  const plan = planWrite(tensors, metadata, dtype, '<safetensors output>');
  const out = new Uint8Array(plan.header.length + plan.dataBytes);
  out.set(plan.header, 0);
  let pos = plan.header.length;
  for (const item of plan.items) {
    out.set(encodeTensor(item.tensor.data, dtype), pos);
    pos += item.bytes;
  }
  return out;
}

function writeAll(fd: number, buf: Uint8Array): void {
  let done = 0;
  while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done);
}

/**
 * Write a safetensors file atomically: data goes to a temporary file in the
 * destination directory, is fsynced, then renamed over `filePath`. Tensors are
 * streamed one at a time, so no full-file copy is built in memory.
 */
export function writeSafetensors(filePath: string, tensors: TensorInput, metadata?: Record<string, string>, dtype: Dtype = 'F32'): void {
  const plan = planWrite(tensors, metadata, dtype, filePath);
  const tmp = path.join(path.dirname(filePath), `.${path.basename(filePath)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  let fd: number | null = null;
  try {
    fd = fs.openSync(tmp, 'w');
    writeAll(fd, plan.header);
    for (const item of plan.items) writeAll(fd, encodeTensor(item.tensor.data, dtype));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(tmp, filePath);
  } catch (e) {
    if (fd !== null) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* may not exist */
    }
    if (e instanceof SafetensorsError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new SafetensorsError(`${filePath}: write failed (${err.code ?? err.message})`);
  }
}

/** Hex SHA-256 of a file, read in 4 MiB chunks. */
export function sha256File(filePath: string): string {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  const fd = fs.openSync(filePath, 'r');
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}
