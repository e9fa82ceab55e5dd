import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../gpu-worker/clip/random.ts';
import { encodePng } from '../../../lab/toyworld/png.ts';
import { renderScene } from '../../../lab/toyworld/raster-renderer.ts';
import { sampleScene } from '../../../lab/toyworld/scene-sampler.ts';

describe('toy world PNG encoding', () => {
  it('round-trips a rendered scene losslessly', async () => {
    const img = renderScene(sampleScene(new SeededRandom(4), 'orange cross'), 48);
    const png = await encodePng(img);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(info.width).toBe(48);
    expect(info.height).toBe(48);
    expect(info.channels).toBe(3);
    expect(Buffer.from(img.data).equals(data)).toBe(true);
  });

  it('rejects a buffer of the wrong length', async () => {
    await expect(encodePng({ width: 4, height: 4, data: new Uint8Array(10) })).rejects.toThrow();
  });
});
