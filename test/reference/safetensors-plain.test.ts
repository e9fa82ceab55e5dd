// Self-checks of the independent reference's safetensors reader (test/reference/safetensors-plain.ts): F16 / BF16
// decoding by hand and the file format, so the models the CLIP reference loads hold the values the files hold.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decodeBF16,
  decodeF16,
  parseSafetensorsPlain,
  readSafetensorsHeader,
  readSafetensorsPlain,
} from './safetensors-plain.ts';
import { uniformStream as rng } from '../helpers/random.ts';
import { f32Bytes, u16Bytes, writeSafetensors } from '../helpers/safetensors-writer.ts';
import { useTmpDirs } from '../helpers/tmp.ts';

const tmp = useTmpDirs('safetensors-plain-');

describe('safetensors-plain', () => {
  it('decodes F16 bit patterns by hand', () => {
    expect(decodeF16(0x3c00)).toBe(1);
    expect(decodeF16(0xc000)).toBe(-2);
    expect(decodeF16(0x7bff)).toBe(65504);
    expect(decodeF16(0x0001)).toBe(2 ** -24);
    expect(decodeF16(0x0400)).toBe(2 ** -14); // smallest normal
    expect(decodeF16(0x03ff)).toBe(1023 * 2 ** -24); // largest subnormal
    expect(decodeF16(0x3555)).toBe(0.333251953125);
    expect(decodeF16(0x0000)).toBe(0);
    expect(Object.is(decodeF16(0x8000), -0)).toBe(true);
    expect(decodeF16(0x7c00)).toBe(Infinity);
    expect(decodeF16(0xfc00)).toBe(-Infinity);
    expect(decodeF16(0x7e00)).toBeNaN();
  });

  it('decodes BF16 bit patterns, agreeing with the upper half of a float32', () => {
    expect(decodeBF16(0x3f80)).toBe(1);
    expect(decodeBF16(0xc000)).toBe(-2);
    expect(decodeBF16(0x4049)).toBe(3.140625);
    expect(decodeBF16(0x7f80)).toBe(Infinity);
    expect(decodeBF16(0x7fc0)).toBeNaN();
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    const r = rng(7);
    for (let k = 0; k < 20000; k++) {
      const bits = Math.floor(r() * 65536);
      u[0] = bits << 16;
      const want = f[0];
      if (Number.isNaN(want)) expect(decodeBF16(bits)).toBeNaN();
      else expect(decodeBF16(bits)).toBe(want);
    }
  });

  it('reads F32 / F16 / BF16 tensors, skips I64, reads headers alone', () => {
    const dir = tmp();
    const i64 = new Uint8Array(new BigInt64Array([0n, 1n, 2n]).buffer);
    const buf = writeSafetensors(
      [
        { name: 'a', dtype: 'F32', shape: [2, 3], bytes: f32Bytes([1, -2, 0.5, 3.25, 0, -0.125]) },
        { name: 'h', dtype: 'F16', shape: [4], bytes: u16Bytes([0x3c00, 0xc000, 0x7bff, 0x0001]) },
        { name: 'b', dtype: 'BF16', shape: [2], bytes: u16Bytes([0x3f80, 0x4049]) },
        { name: 'pos_ids', dtype: 'I64', shape: [1, 3], bytes: i64 },
        { name: 's', dtype: 'F32', shape: [], bytes: f32Bytes([4.5]) },
      ],
      { format: 'pt' },
    );
    const path = join(dir, 'm.safetensors');
    writeFileSync(path, buf);
    const m = readSafetensorsPlain(path);
    expect([...m.keys()].sort()).toEqual(['a', 'b', 'h', 's']);
    expect(m.get('a')!.shape).toEqual([2, 3]);
    expect(Array.from(m.get('a')!.data)).toEqual([1, -2, 0.5, 3.25, 0, -0.125]);
    expect(Array.from(m.get('h')!.data)).toEqual([1, -2, 65504, 2 ** -24]);
    expect(Array.from(m.get('b')!.data)).toEqual([1, 3.140625]);
    expect(m.get('s')!.shape).toEqual([]);
    expect(Array.from(m.get('s')!.data)).toEqual([4.5]);
    const header = readSafetensorsHeader(path);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.entries.get('pos_ids')).toMatchObject({ dtype: 'I64', shape: [1, 3] });
  });

  it('rejects truncated files and corrupt headers', () => {
    const buf = writeSafetensors([{ name: 'a', dtype: 'F32', shape: [4], bytes: f32Bytes([1, 2, 3, 4]) }]);
    expect(() => parseSafetensorsPlain(buf.subarray(0, buf.length - 1), 'x.safetensors')).toThrow(/x\.safetensors.*truncated/);
    const bad = Buffer.from(buf);
    bad.writeBigUInt64LE(0xffffffffffn, 0);
    expect(() => parseSafetensorsPlain(bad, 'x.safetensors')).toThrow(/header length/);
    expect(() => parseSafetensorsPlain(buf.subarray(0, 5), 'x.safetensors')).toThrow(/8-byte/);
  });
});
