// A minimal, independent safetensors reader for the test reference only (shares no code with the
// product). It decodes F32 / F16 / BF16 tensors into Float64Array; other dtypes (e.g. the I64
// `*.position_ids` buffers of old checkpoints) are listed in the header but not decoded.
//
// Format: 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON
// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {...}}`, then the data
// buffer; offsets are relative to the start of the data buffer, values are little-endian.
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';

export interface PlainTensor {
  dtype: string;
  shape: number[];
  data: Float64Array;
}

export interface PlainHeaderEntry {
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

export interface PlainHeader {
  entries: Map<string, PlainHeaderEntry>;
  metadata: Record<string, string>;
  /** Byte offset of the data buffer in the file (8 + header length). */
  dataStart: number;
}

const ELEMENT_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** IEEE 754 binary16 bit pattern → number, decoded by hand (sign, 5-bit exponent, 10-bit mantissa). */
export function decodeF16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero / subnormal
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** bfloat16 bit pattern → number (sign, 8-bit exponent, 7-bit mantissa), decoded by hand. */
export function decodeBF16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 7) & 0xff;
  const mantissa = bits & 0x7f;
  if (exponent === 0) return sign * mantissa * 2 ** -133; // zero / subnormal (2^-126 · m/128)
  if (exponent === 0xff) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 128) * 2 ** (exponent - 127);
}

function fail(source: string, msg: string): never {
  throw new Error(`${source}: ${msg}`);
}

/** Parses and validates the JSON header. `headerBytes` are the bytes right after the 8-byte length. */
function parseHeader(headerBytes: Uint8Array, dataLength: number | undefined, source: string): PlainHeader {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    fail(source, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(source, 'header is not a JSON object');
  const entries = new Map<string, PlainHeaderEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = value as Record<string, string>;
      continue;
    }
    const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof v !== 'object' || v === null) fail(source, `tensor ${name}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = v;
    if (typeof dtype !== 'string' || !(dtype in ELEMENT_BYTES)) fail(source, `tensor ${name}: unknown dtype ${String(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      fail(source, `tensor ${name}: bad shape`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
      fail(source, `tensor ${name}: bad data_offsets`);
    }
    const [begin, end] = offsets as number[];
    let count = 1;
    for (const d of shape as number[]) count *= d;
    if (end - begin !== count * ELEMENT_BYTES[dtype]) {
      fail(source, `tensor ${name}: ${end - begin} bytes for shape [${(shape as number[]).join(', ')}] ${dtype}`);
    }
    if (dataLength !== undefined && end > dataLength) {
      fail(source, `tensor ${name}: data [${begin}, ${end}) beyond the ${dataLength}-byte data buffer (truncated?)`);
    }
    entries.set(name, { dtype, shape: shape as number[], begin, end });
  }
  return { entries, metadata, dataStart: 8 + headerBytes.length };
}

function headerLength(first8: Uint8Array, source: string, fileLength: number): number {
  if (first8.length < 8) fail(source, 'shorter than the 8-byte header length');
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileLength - 8)) fail(source, `header length ${n} exceeds the file size ${fileLength}`);
  return Number(n);
}

/** Reads only the header of a safetensors file (cheap for large files). */
export function readSafetensorsHeader(path: string): PlainHeader {
  const fd = openSync(path, 'r');
  try {
    const first8 = new Uint8Array(8);
    const got = readSync(fd, first8, 0, 8, 0);
    const size = fstatSync(fd).size;
    const n = headerLength(first8.subarray(0, got), path, size);
    const headerBytes = new Uint8Array(n);
    readSync(fd, headerBytes, 0, n, 8);
    return parseHeader(headerBytes, size - 8 - n, path);
  } finally {
    closeSync(fd);
  }
}

function decodeTensor(bytes: Uint8Array, dtype: string, count: number): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(count);
  switch (dtype) {
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = decodeF16(view.getUint16(2 * i, true));
      break;
    case 'BF16':
      for (let i = 0; i < count; i++) out[i] = decodeBF16(view.getUint16(2 * i, true));
      break;
    default:
      throw new Error(`dtype ${dtype} is not decoded`);
  }
  return out;
}

/** Parses a whole safetensors file held in memory. Tensors of non-float dtypes are skipped. */
export function parseSafetensorsPlain(buf: Uint8Array, source = 'safetensors'): Map<string, PlainTensor> {
  const n = headerLength(buf.subarray(0, 8), source, buf.length);
  const header = parseHeader(buf.subarray(8, 8 + n), buf.length - 8 - n, source);
  const out = new Map<string, PlainTensor>();
  for (const [name, e] of header.entries) {
    if (!['F64', 'F32', 'F16', 'BF16'].includes(e.dtype)) continue;
    const count = e.shape.reduce((a, b) => a * b, 1);
    const bytes = buf.subarray(header.dataStart + e.begin, header.dataStart + e.end);
    out.set(name, { dtype: e.dtype, shape: e.shape.slice(), data: decodeTensor(bytes, e.dtype, count) });
  }
  return out;
}

/** Reads a safetensors file → Map<name, {shape, data: Float64Array}>. */
export function readSafetensorsPlain(path: string): Map<string, PlainTensor> {
  return parseSafetensorsPlain(readFileSync(path), path);
}
