/**
 * A small, deterministic, CLIP-format BPE vocab for random-weight test models.
 *
 * Layout (same as OpenAI CLIP):
 *   ids 0..255     the 256 byte-unicode characters (CLIP order)
 *   ids 256..511   the same characters with `</w>` appended
 *   ids 512..      one entry per merge, learned by plain BPE over a small built-in corpus
 *   last two ids   `<|startoftext|>`, `<|endoftext|>`
 *
 * Because every byte is present (with and without `</w>`), any text can be tokenized.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EOT_TOKEN, SOT_TOKEN, byteEncode, bytesToUnicode, preTokenize } from './tokenizer.ts';

export interface TinyVocab {
  vocab: Record<string, number>;
  merges: string[];
}

/** Default upper bound on learned merges: keeps the tiny vocab at most 512 + 480 + 2 = 994 entries. */
const MAX_MERGES = 480;
/** By default, pairs seen fewer times than this are not merged. */
const MIN_PAIR_COUNT = 2;

const CORPUS = `
a photo of a cat. a photo of a dog. a photo of a bird. a photo of a car.
a photo of the cat. a photo of the dog. a photo of the bird. a photo of the car.
a bad photo of a cat. a good photo of a dog. a close-up photo of a bird.
a bright photo of a red car. a dark photo of a black cat. a blurry photo of a white dog.
a cropped photo of the small bird. a photo of the large car. a photo of a big dog.
a photo of my cat. a photo of my dog. a picture of a cat. a picture of a dog.
an image of a bird. an image of a car. a drawing of a cat. a sketch of a dog.
a painting of a bird. a rendering of a car. a cartoon of a cat. a toy dog.
a plastic car. a low resolution photo of a bird. a jpeg corrupted photo of a cat.
there is a cat on the table. there is a dog in the park. the bird is in the tree.
the car is on the road. the cat is sleeping. the dog is running. the bird is flying.
the red car and the blue car. the green bird and the yellow bird.
colors: red, green, blue, yellow, orange, purple, pink, brown, black, white, gray, grey.
a red circle. a green square. a blue triangle. a yellow star. an orange rectangle.
a purple hexagon. a pink heart. a brown oval. a black line. a white dot.
shapes: circle, square, triangle, star, rectangle, hexagon, heart, oval, line, dot.
a photo of a red circle on a white background. a photo of a blue square on a black background.
a small green triangle and a large yellow star.
one two three four five six seven eight nine ten.
0 1 2 3 4 5 6 7 8 9. 10 20 30 40 50 100 2024.
the number one. the number two. the number three. the number seven.
a photo of one cat. a photo of two dogs. a photo of three birds. a photo of four cars.
cats and dogs. birds and cars. the cats are playing with the dogs.
a photo of a person. a photo of a man. a photo of a woman. a photo of a child.
a photo of a house. a photo of a tree. a photo of a flower. a photo of a horse.
a photo of a boat. a photo of a plane. a photo of a train. a photo of a truck.
a photo of a fish. a photo of a cow. a photo of a sheep. a photo of a chair.
this is a photo of a cat. this is a photo of a dog. it's a bird. it's a car.
don't miss the cat. the dog's ball. the bird's nest. the car's wheel.
an x-ray of a hand. a satellite photo of a city. a photo of food on a plate.
a centered satellite photo of a forest. a photo of a street at night.
a photo of a sunny beach. a photo of a snowy mountain. a photo of a river.
a photo of a happy dog. a photo of a sad cat. a photo of a cute bird. a photo of a fast car.
an example of a cat. an example of a dog. a type of bird. a type of car.
a close-up of the face of a cat. the eyes of a dog. the wings of a bird. the wheels of a car.
in the morning, in the evening, during the day, at night.
left, right, top, bottom, center, inside, outside, above, below, near, far.
`;

/** Merge every adjacent (first, second) in `symbols`, left to right. */
function applyMerge(symbols: string[], first: string, second: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; ) {
    if (i < symbols.length - 1 && symbols[i] === first && symbols[i + 1] === second) {
      out.push(first + second);
      i += 2;
    } else {
      out.push(symbols[i]);
      i += 1;
    }
  }
  return out;
}

export interface BpeVocabOptions {
  /** Upper bound on learned merges (default 480). */
  maxMerges?: number;
  /** Pairs seen fewer times than this are not merged (default 2; 1 merges every word of the corpus into one token). */
  minPairCount?: number;
}

/** Build the tiny vocab. Pure and deterministic: same output on every call. */
export function buildTinyVocab(): TinyVocab {
  return buildBpeVocab(CORPUS);
}

/**
 * A CLIP-format BPE vocab learned by plain BPE over `corpus` (word frequencies = occurrences).
 * Pure and deterministic.
 */
export function buildBpeVocab(corpus: string, opts: BpeVocabOptions = {}): TinyVocab {
  const maxMerges = opts.maxMerges ?? MAX_MERGES;
  const minPairCount = opts.minPairCount ?? MIN_PAIR_COUNT;
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  let nextId = 0;
  const add = (token: string): void => {
    if (!(token in vocab)) vocab[token] = nextId++;
  };
  const bytes = bytesToUnicode();
  for (const ch of bytes) add(ch);
  for (const ch of bytes) add(ch + '</w>');

  // Word frequencies, in first-seen order.
  const freq = new Map<string, number>();
  for (const word of preTokenize(corpus)) freq.set(word, (freq.get(word) ?? 0) + 1);
  const words: { symbols: string[]; count: number }[] = [];
  for (const [word, count] of freq) {
    const symbols = byteEncode(word).split('');
    symbols[symbols.length - 1] += '</w>';
    words.push({ symbols, count });
  }

  const merges: string[] = [];
  while (merges.length < maxMerges) {
    const pairCounts = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i < symbols.length - 1; i++) {
        const key = symbols[i] + ' ' + symbols[i + 1];
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + count);
      }
    }
    // Most frequent pair; ties broken by the smaller "left right" string (code-unit order).
    let best = '';
    let bestCount = 0;
    for (const [key, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    if (bestCount < minPairCount) break;
    const sp = best.indexOf(' ');
    const first = best.slice(0, sp);
    const second = best.slice(sp + 1);
    merges.push(best);
    add(first + second);
    for (const w of words) w.symbols = applyMerge(w.symbols, first, second);
  }

  add(SOT_TOKEN);
  add(EOT_TOKEN);
  // Plain object for JSON and callers (note: JS lists integer-like keys such as "7" first).
  return { vocab: { ...vocab }, merges };
}

/** Write `vocab.json` and `merges.txt` (with a `#version: 0.2` header) in CLIP/HF format. */
export function writeVocabFiles(dir: string, v: TinyVocab): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(v.vocab));
  writeFileSync(path.join(dir, 'merges.txt'), ['#version: 0.2', ...v.merges].join('\n') + '\n');
}
