// Fraction of toy-world objects left in RandomResizedCrop training views, for the official crop area (0.08, 1)
// and the benchmark's (0.5, 1): node bin/run-ts.mjs scripts/toyworld-crop-stats.ts   (docs/base2new.md)
import { SeededRandom } from '../gpu-worker/clip/random.ts';
import { randomResizedCropBox } from '../gpu-worker/cocoop/augment.ts';
import { sampleScene } from '../lab/toyworld/scene-sampler.ts';
import { CLASS_NAMES } from '../lab/toyworld/world.ts';
const S = 48;
for (const scale of [[0.08, 1], [0.5, 1]] as [number, number][]) {
  const rng = new SeededRandom(1);
  let n = 0, whole = 0, half = 0, centerOut = 0;
  for (let i = 0; i < 20000; i++) {
    const sc = sampleScene(rng, CLASS_NAMES[i % 64]);
    const box = randomResizedCropBox(S, S, rng, { scale });
    // Fraction of the object's bounding disk inside the crop, by sampling.
    const cx = sc.cx * S, cy = sc.cy * S, r = sc.radius * S;
    let inside = 0, tot = 0;
    for (let k = 0; k < 64; k++) {
      const a = rng.uniform() * 2 * Math.PI, d = r * Math.sqrt(rng.uniform());
      const x = cx + d * Math.cos(a), y = cy + d * Math.sin(a);
      tot++;
      if (x >= box.left && x < box.left + box.width && y >= box.top && y < box.top + box.height) inside++;
    }
    const f = inside / tot;
    n++; if (f > 0.999) whole++; if (f < 0.5) half++;
    if (!(cx >= box.left && cx < box.left + box.width && cy >= box.top && cy < box.top + box.height)) centerOut++;
  }
  console.log(`scale ${scale}: whole object in view ${(100 * whole / n).toFixed(1)}%, less than half of it ${(100 * half / n).toFixed(1)}%, centre cropped out ${(100 * centerOut / n).toFixed(1)}%`);
}
