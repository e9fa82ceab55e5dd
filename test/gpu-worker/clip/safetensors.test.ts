import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  parseSafetensors,
  readSafetensors,
  SafetensorsError,
  serializeSafetensors,
  sha256File,
  writeSafetensors,
  type HostTensor,
} from '../../../gpu-worker/clip/safetensors.ts';
import { uniformStream } from '../../helpers/random.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

const dir = useTmpDir('safetensors-test-');

// --- Independent reference decoders (formula based, no bit tricks shared with the implementation) ---

/** A 16-bit float code with `expBits` exponent and `manBits` mantissa bits, decoded by the formula. */
function refMinifloat(h: number, expBits: number, manBits: number): number {
  const s = h >> 15 ? -1 : 1;
  const eMax = (1 << expBits) - 1;
  const bias = eMax >> 1;
  const e = (h >> manBits) & eMax;
  const m = (h & ((1 << manBits) - 1)) / (1 << manBits);
  if (e === 0) return s * Math.pow(2, 1 - bias) * m;
  if (e === eMax) return m ? NaN : s * Infinity;
  return s * Math.pow(2, e - bias) * (1 + m);
}

const refF16 = (h: number): number => refMinifloat(h, 5, 10);
const refBF16 = (h: number): number => refMinifloat(h, 8, 7);

const decodedTables = new Map<(h: number) => number, Float64Array>();

/** Nearest finite value under `decode` with the same sign as x (sign never changes), ties to the even code. */
function nearestCode(x: number, decode: (h: number) => number): number {
  let table = decodedTables.get(decode);
  if (!table) {
    table = new Float64Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = decode(h);
    decodedTables.set(decode, table);
  }
  const base = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  let best = -1;
  let bestErr = Infinity;
  for (let h = base; h < base + 0x8000; h++) {
    const v = table[h];
    if (!Number.isFinite(v)) continue;
    const err = Math.abs(v - x);
    if (err < bestErr || (err === bestErr && (h & 1) === 0)) {
      best = h;
      bestErr = err;
    }
  }
  return best;
}

/** Build a file by hand: header JSON (unpadded unless asked) + raw data. */
function handBuilt(
  header: unknown,
  data: Uint8Array,
  opts: { headerLenOverride?: bigint; rawHeader?: string; rawHeaderBytes?: Uint8Array } = {},
): Uint8Array {
  const json = opts.rawHeaderBytes ?? new TextEncoder().encode(opts.rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, opts.headerLenOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function expectStError(file: string, pattern: RegExp): void {
  let err: unknown;
  try {
    readSafetensors(file);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SafetensorsError);
  const msg = (err as Error).message;
  expect(msg.startsWith(`${file}: `)).toBe(true);
  expect(msg).not.toContain('\n');
  expect(msg).toMatch(pattern);
}

function writeCorrupt(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

function f32le(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

describe('safetensors round trip', () => {
  const tensors: Record<string, HostTensor> = {
    'b.weight': { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, -0, 1e-3]) },
    'a.bias': { shape: [3], data: new Float32Array([0.1, 0.2, 0.3]) },
    scalar: { shape: [], data: new Float32Array([42]) },
    empty: { shape: [0, 4], data: new Float32Array(0) },
  };

  it('F32 is exact, sorted, with padded header and metadata', () => {
    const file = join(dir, 'rt32.safetensors');
    writeSafetensors(file, tensors, { format: 'pt', note: 'hello ü' });
    const bytes = readFileSync(file);
    const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8'));
    expect(Object.keys(header)).toEqual(['__metadata__', 'a.bias', 'b.weight', 'empty', 'scalar']);

    const got = readSafetensors(file);
    expect(got.metadata).toEqual({ format: 'pt', note: 'hello ü' });
    expect([...got.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const g = got.tensors.get(name)!;
      expect(g.shape).toEqual(t.shape);
      expect(Array.from(g.data)).toEqual(Array.from(t.data));
      expect(got.dtypes.get(name)).toBe('F32');
    }
    // No temporary files are left behind by the atomic write.
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('serializeSafetensors matches writeSafetensors byte for byte; Map input works', () => {
    const file = join(dir, 'rt32b.safetensors');
    writeSafetensors(file, new Map(Object.entries(tensors)), { a: 'b' });
    expect(Buffer.from(serializeSafetensors(tensors, { a: 'b' }))).toEqual(readFileSync(file));
  });

  it('writes Float32Array views with a byte offset correctly', () => {
    const backing = new Float32Array([9, 9, 1, 2, 3, 9]);
    const view = backing.subarray(2, 5);
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const got = parseSafetensors(serializeSafetensors({ v: { shape: [3], data: view } }, undefined, dtype));
      expect(Array.from(got.tensors.get('v')!.data)).toEqual([1, 2, 3]);
    }
  });

  const special = [0, -0, 1, -1, 0.5, 65504, 65519, 65520, 1e6, -1e6, 6.1e-5, 6e-8, 5.96e-8, 2.98e-8, 2.99e-8, 1e-10, 3.14159265, 1 / 3, 1.00048828125, 1.0009765625 + 0.00048828125, Infinity, -Infinity, 1.5e-5, -2.2e-7, 255.5];

  it('F16 round trip uses round-to-nearest-even and decodes subnormals/inf/nan', () => {
    const rng = uniformStream(7);
    const values = [...special];
    for (let i = 0; i < 300; i++) values.push((rng() - 0.5) * Math.pow(2, Math.floor(rng() * 40) - 26));
    const data = new Float32Array(values);
    const bytes = serializeSafetensors({ x: { shape: [data.length], data }, n: { shape: [1], data: new Float32Array([NaN]) } }, undefined, 'F16');
    const file = parseSafetensors(bytes, 'mem.safetensors');
    expect(file.dtypes.get('x')).toBe('F16');
    const got = file.tensors.get('x')!.data;
    // Raw codes as written.
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)))));
    const begin = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)) + header.x.data_offsets[0];
    const codes = new DataView(bytes.buffer, bytes.byteOffset + begin);
    for (let i = 0; i < data.length; i++) {
      const code = codes.getUint16(i * 2, true);
      const x = data[i];
      if (Math.abs(x) >= 65520) expect(code & 0x7fff).toBe(0x7c00);
      else expect(code).toBe(nearestCode(x, refF16));
      expect(Object.is(got[i], Math.fround(refF16(code)))).toBe(true);
    }
    expect(Number.isNaN(file.tensors.get('n')!.data[0])).toBe(true);
  });

  it('BF16 round trip uses round-to-nearest-even', () => {
    const rng = uniformStream(11);
    const values = [...special, 1 + 1 / 256, 1 + 3 / 256, 3.0e38, 1e-40];
    for (let i = 0; i < 200; i++) values.push((rng() - 0.5) * Math.pow(2, Math.floor(rng() * 80) - 40));
    const data = new Float32Array(values);
    const file = parseSafetensors(serializeSafetensors({ x: { shape: [data.length], data } }, undefined, 'BF16'));
    expect(file.dtypes.get('x')).toBe('BF16');
    const got = file.tensors.get('x')!.data;
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      const want = Number.isFinite(x) ? refBF16(nearestCode(x, refBF16)) : x;
      expect(Object.is(got[i], want)).toBe(true);
    }
    expect(got[data.indexOf(Math.fround(1 + 1 / 256))]).toBe(1); // tie → even (down)
    expect(got[data.indexOf(Math.fround(1 + 3 / 256))]).toBe(1 + 4 / 256); // tie → even (up)
  });
});

describe('safetensors reading', () => {
  it('parses a hand-built file with F32, F16, BF16 and an unaligned F32 tensor', () => {
    // Layout of the data section:
    //  0..2   h: F16 [1] = 0x3c00 (1.0)
    //  2..6   b: BF16 [2] = 0xc040 (-3), 0x0001 (smallest subnormal)
    //  6..14  f: F32 [2] at offset 6 (not 4-aligned relative to the data start)
    //  14..22 s: F16 [4] = 0x0001 (2^-24), 0x7c00 (+inf), 0xfc00 (-inf), 0x7e00 (nan)
    //  22..30 pos: I64 [1]
    const data = new Uint8Array(30);
    const dv = new DataView(data.buffer);
    dv.setUint16(0, 0x3c00, true);
    dv.setUint16(2, 0xc040, true);
    dv.setUint16(4, 0x0001, true);
    dv.setFloat32(6, 1.25, true);
    dv.setFloat32(10, -7, true);
    dv.setUint16(14, 0x0001, true);
    dv.setUint16(16, 0x7c00, true);
    dv.setUint16(18, 0xfc00, true);
    dv.setUint16(20, 0x7e00, true);
    dv.setBigInt64(22, 5n, true);
    const header = {
      h: { dtype: 'F16', shape: [1], data_offsets: [0, 2] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [2, 6] },
      f: { dtype: 'F32', shape: [1, 2], data_offsets: [6, 14] },
      s: { dtype: 'F16', shape: [2, 2], data_offsets: [14, 22] },
      pos: { dtype: 'I64', shape: [1], data_offsets: [22, 30] },
      __metadata__: { k: 'v' },
    };
    const bytes = handBuilt(header, data);
    const file = parseSafetensors(bytes, 'hand.safetensors', { only: (n) => n !== 'pos' });
    expect(file.metadata).toEqual({ k: 'v' });
    expect(file.tensors.has('pos')).toBe(false);
    expect(Array.from(file.tensors.get('h')!.data)).toEqual([1]);
    expect(Array.from(file.tensors.get('b')!.data)).toEqual([-3, Math.fround(Math.pow(2, -133))]);
    expect(file.tensors.get('f')!.shape).toEqual([1, 2]);
    expect(Array.from(file.tensors.get('f')!.data)).toEqual([1.25, -7]);
    const s = Array.from(file.tensors.get('s')!.data);
    expect(s.slice(0, 3)).toEqual([Math.fround(Math.pow(2, -24)), Infinity, -Infinity]);
    expect(Number.isNaN(s[3])).toBe(true);
    expect(file.dtypes.get('b')).toBe('BF16');

    // The same bytes at an odd offset inside a larger buffer still decode.
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const again = parseSafetensors(shifted.subarray(3), 'hand.safetensors', { only: (n) => n !== 'pos' });
    expect(Array.from(again.tensors.get('f')!.data)).toEqual([1.25, -7]);
    expect(Array.from(again.tensors.get('b')!.data)).toEqual([-3, Math.fround(Math.pow(2, -133))]);
  });

  it('an unsupported dtype is an error only when selected', () => {
    const data = new Uint8Array(12);
    new DataView(data.buffer).setFloat32(8, 2, true);
    const bytes = handBuilt(
      { position_ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] }, w: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } },
      data,
    );
    const p = writeCorrupt('i64.safetensors', bytes);
    const got = readSafetensors(p, { only: (n) => !n.endsWith('position_ids') });
    expect([...got.tensors.keys()]).toEqual(['w']);
    expect(got.tensors.get('w')!.data[0]).toBe(2);
    expect(() => readSafetensors(p)).toThrow(SafetensorsError);
    expect(() => readSafetensors(p)).toThrow(/tensor "position_ids" has unsupported dtype I64/);
    expect(() => readSafetensors(p)).toThrow(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
  });

  it('missing files raise SafetensorsError naming the path', () => {
    expectStError(join(dir, 'nope.safetensors'), /cannot read file \(ENOENT\)/);
  });
});

describe('safetensors validation', () => {
  const goodData = f32le([1, 2, 3, 4]);
  const good = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } };

  const cases: [string, Uint8Array, RegExp][] = [
    ['too-short', new Uint8Array([1, 2, 3]), /too short: 3 bytes/],
    ['empty', new Uint8Array(0), /too short: 0 bytes/],
    ['header-longer-than-file', handBuilt(good, goodData, { headerLenOverride: 5000n }), /truncated: header length 5000/],
    ['absurd-header', handBuilt(good, goodData, { headerLenOverride: 1n << 40n }), /header length 1099511627776 is absurd/],
    ['huge-u64-header', handBuilt(good, goodData, { headerLenOverride: 0xffffffffffffffffn }), /is absurd/],
    ['bad-json', handBuilt(null, goodData, { rawHeader: '{"a": {"dtype": "F32",' }), /header is not valid JSON/],
    ['json-array', handBuilt([1, 2], goodData), /header JSON must be an object, got an array/],
    ['json-null', handBuilt(null, goodData), /header JSON must be an object, got null/],
    ['bad-utf8', handBuilt(null, goodData, { rawHeaderBytes: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) }), /header is not valid UTF-8/],
    ['entry-not-object', handBuilt({ a: 5 }, goodData), /tensor "a": header entry must be an object/],
    ['missing-dtype', handBuilt({ a: { shape: [2], data_offsets: [0, 8] } }, goodData), /tensor "a": header entry is missing "dtype"/],
    ['missing-shape', handBuilt({ a: { dtype: 'F32', data_offsets: [0, 8] } }, goodData), /missing "shape"/],
    ['missing-offsets', handBuilt({ a: { dtype: 'F32', shape: [2] } }, goodData), /missing "data_offsets"/],
    ['dtype-not-string', handBuilt({ a: { dtype: 4, shape: [2], data_offsets: [0, 8] } }, goodData), /"dtype" must be a non-empty string/],
    ['shape-negative', handBuilt({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, goodData), /"shape" must be an array of non-negative integers/],
    ['shape-fraction', handBuilt({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, goodData), /"shape" must be an array/],
    ['shape-not-array', handBuilt({ a: { dtype: 'F32', shape: 2, data_offsets: [0, 8] } }, goodData), /"shape" must be an array/],
    ['offsets-three', handBuilt({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4, 8] } }, goodData), /"data_offsets" must be two non-negative integers/],
    ['offsets-negative', handBuilt({ a: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }, goodData), /"data_offsets" must be two/],
    ['offsets-strings', handBuilt({ a: { dtype: 'F32', shape: [2], data_offsets: ['0', '8'] } }, goodData), /"data_offsets" must be two/],
    ['offsets-reversed', handBuilt({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, goodData), /begin 8 is after end 0/],
    [
      'truncated',
      handBuilt(good, goodData.subarray(0, 12)),
      /truncated: tensor "b" ends at byte 16 but the data section has 12 bytes \(expected file size at least \d+, actual \d+\)/,
    ],
    ['out-of-range', handBuilt({ a: { dtype: 'F32', shape: [2], data_offsets: [100, 108] } }, goodData), /truncated: tensor "a" ends at byte 108/],
    ['wrong-byte-size', handBuilt({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, goodData), /tensor "a": byte length 8 does not match shape \[3\] × F32/],
    ['wrong-byte-size-f16', handBuilt({ a: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 16] } }, goodData), /byte length 16 does not match/],
    [
      'overlapping',
      handBuilt({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, goodData),
      /tensors "a" \[0, 8\) and "b" \[4, 12\) overlap/,
    ],
    ['metadata-not-object', handBuilt({ ...good, __metadata__: ['x'] }, goodData), /"__metadata__" must be an object/],
    ['metadata-non-string', handBuilt({ ...good, __metadata__: { epoch: 3 } }, goodData), /"__metadata__" value for key "epoch" must be a string, got number/],
    ['unsupported-dtype', handBuilt({ a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, goodData), /tensor "a" has unsupported dtype F64/],
  ];

  for (const [name, bytes, pattern] of cases) {
    it(`${name} → SafetensorsError naming the file`, () => {
      expectStError(writeCorrupt(`${name}.safetensors`, bytes), pattern);
    });
  }

  it('the valid base case parses', () => {
    const got = readSafetensors(writeCorrupt('good.safetensors', handBuilt(good, goodData)));
    expect(Array.from(got.tensors.get('b')!.data)).toEqual([3, 4]);
  });

  it('parseSafetensors without a name still prefixes messages', () => {
    expect(() => parseSafetensors(new Uint8Array(2))).toThrow(/^<safetensors buffer>: file too short/);
  });

  it('writer rejects shape/data mismatches and bad names', () => {
    const p = join(dir, 'bad-write.safetensors');
    expect(() => writeSafetensors(p, { a: { shape: [3], data: new Float32Array(2) } })).toThrow(SafetensorsError);
    expect(() => writeSafetensors(p, { a: { shape: [3], data: new Float32Array(2) } })).toThrow(/bad-write\.safetensors: tensor "a": shape \[3\] has 3 elements but data has 2/);
    expect(() => writeSafetensors(p, { __metadata__: { shape: [1], data: new Float32Array(1) } })).toThrow(/__metadata__/);
    expect(readdirSync(dir).filter((f) => f.includes('bad-write'))).toEqual([]);
  });
});

describe('sha256File', () => {
  it('matches a one-shot hash, including files larger than the chunk size', () => {
    const p = join(dir, 'blob.bin');
    const buf = Buffer.alloc(9 * 1024 * 1024 + 123);
    for (let i = 0; i < buf.length; i += 997) buf[i] = i & 0xff;
    writeFileSync(p, buf);
    expect(sha256File(p)).toBe(createHash('sha256').update(buf).digest('hex'));
    const e = join(dir, 'empty.bin');
    writeFileSync(e, '');
    expect(sha256File(e)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});
