import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../gpu-worker/clip/random.ts';
import { CAPTION_TEMPLATES, captionCorpus, captionFor, templatesFor } from '../../../lab/toyworld/captions.ts';
import { sampleClassName, sampleScene } from '../../../lab/toyworld/scene-sampler.ts';
import { BACKGROUND_WORDS, CLASS_NAMES, sizeWord } from '../../../lab/toyworld/world.ts';
import type { Scene } from '../../../lab/toyworld/world.ts';

const words = (text: string) => text.split(/[^a-z]+/).filter((w) => w.length > 0);

describe('toy world captions', () => {
  const corpus = captionCorpus();
  const vocab = new Set(words(corpus));

  it('has 12–16 templates, all lower-case and naming the class', () => {
    expect(CAPTION_TEMPLATES.length).toBeGreaterThanOrEqual(12);
    expect(CAPTION_TEMPLATES.length).toBeLessThanOrEqual(16);
    for (const t of CAPTION_TEMPLATES) {
      expect(t).toContain('{c}');
      expect(t).toBe(t.toLowerCase());
    }
    expect(CAPTION_TEMPLATES).toContain('a photo of a {c}.'); // the zero-shot prompt
  });

  it('captions contain the class name and only corpus words, with the scene attributes', () => {
    const rng = new SeededRandom(77);
    const used = new Set<string>();
    for (let i = 0; i < 1500; i++) {
      const name = sampleClassName(rng);
      const scene = sampleScene(rng, name);
      const cap = captionFor(scene, rng);
      used.add(cap.replace(name, '{c}'));
      expect(cap).toContain(name);
      expect(cap).toBe(cap.toLowerCase());
      expect(cap).not.toMatch(/[{}]|\s{2}|^\s|\s$/);
      const unknown = words(cap).filter((w) => !vocab.has(w));
      expect(unknown).toEqual([]);
      const size = sizeWord(scene.radius);
      if (size === null) expect(cap).not.toMatch(/\b(small|large)\b/);
      else if (/\b(small|large)\b/.test(cap)) expect(cap).toContain(`${size} ${name}`);
      if (cap.includes('background')) expect(cap).toContain(`${BACKGROUND_WORDS[scene.background.kind]} background`);
    }
    // Every template gets used.
    const usedTemplates = CAPTION_TEMPLATES.filter((t) =>
      [...used].some((u) => {
        const re = new RegExp('^' + t.replace(/[.]/g, '\\.').replace(/\{(size|bg|pos)\}/g, '[a-z ]+') + '$');
        return re.test(u);
      }),
    );
    expect(usedTemplates.length).toBe(CAPTION_TEMPLATES.length);
  });

  it('skips size templates when the size word is null', () => {
    const base = sampleScene(new SeededRandom(1), 'green ring');
    const medium: Scene = { ...base, radius: 0.35 };
    expect(sizeWord(0.35)).toBeNull();
    expect(templatesFor(medium).some((t) => t.includes('{size}'))).toBe(false);
    expect(templatesFor({ ...base, radius: 0.29 }).some((t) => t.includes('{size}'))).toBe(true);
    const rng = new SeededRandom(2);
    for (let i = 0; i < 200; i++) expect(captionFor(medium, rng)).not.toMatch(/small|large/);
  });

  it('the corpus covers every class, attribute word and template', () => {
    for (const name of CLASS_NAMES) expect(corpus).toContain(`a photo of a ${name}.`);
    for (const w of Object.values(BACKGROUND_WORDS)) expect(corpus).toContain(`${w} background`);
    for (const w of ['small', 'large', 'left', 'right', 'top', 'bottom', 'center']) expect(vocab.has(w)).toBe(true);
    expect(corpus).toBe(corpus.toLowerCase());
    expect(captionCorpus()).toBe(corpus); // deterministic
  });
});
