import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer, TokenizerError, htmlUnescape } from '../../../gpu-worker/clip/tokenizer.ts';
import { buildTinyVocab, writeVocabFiles } from '../../../gpu-worker/clip/tiny-vocab.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

const VOCAB_DIR = fileURLToPath(new URL('../../../models/clip-vocab/', import.meta.url));
const VOCAB_JSON = path.join(VOCAB_DIR, 'vocab.json');
const MERGES_TXT = path.join(VOCAB_DIR, 'merges.txt');

// ---------------------------------------------------------------------------------------
// Independent helpers (not using the tokenizer's internals): byte table + decoder.
// ---------------------------------------------------------------------------------------

/** GPT-2 byte table built straight from its definition: byte → char. */
function referenceByteTable(): Map<number, string> {
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const table = new Map<number, string>();
  let extra = 0;
  for (let b = 0; b < 256; b++) table.set(b, String.fromCodePoint(keep(b) ? b : 256 + extra++));
  return table;
}

/** ids → text via an inverse vocab and inverse byte table; `</w>` becomes a space. */
function referenceDecode(vocab: Record<string, number>, ids: number[]): string {
  const inverse = new Map<number, string>();
  for (const [tok, id] of Object.entries(vocab)) inverse.set(id, tok);
  const byteOfChar = new Map<string, number>();
  for (const [b, ch] of referenceByteTable()) byteOfChar.set(ch, b);
  const bytes: number[] = [];
  for (const id of ids) {
    const tok = inverse.get(id);
    if (tok === undefined) throw new Error(`id ${id} not in vocab`);
    const word = tok.endsWith('</w>') ? tok.slice(0, -4) : tok;
    for (const ch of word) {
      const b = byteOfChar.get(ch);
      if (b === undefined) throw new Error(`char ${ch} of ${tok} is not a byte char`);
      bytes.push(b);
    }
    if (tok.endsWith('</w>')) bytes.push(0x20);
  }
  return Buffer.from(bytes).toString('utf8').trimEnd();
}

/** Independent of the tokenizer: ids → "words" (each word ends with `</w>`). */
function wordsOf(vocab: Record<string, number>, ids: number[]): string[] {
  return referenceDecode(vocab, ids).split(' ').filter((w) => w !== '');
}

// ---------------------------------------------------------------------------------------
// Real CLIP vocab
// ---------------------------------------------------------------------------------------

describe('ClipTokenizer with the real CLIP vocab', () => {
  let tok: ClipTokenizer;
  let V: Record<string, number>;
  const body = (...tokens: string[]) =>
    tokens.map((t) => {
      const id = V[t];
      if (id === undefined) throw new Error(`test setup: ${t} not in vocab.json`);
      return id;
    });
  const full = (...tokens: string[]) => [V['<|startoftext|>'], ...body(...tokens), V['<|endoftext|>']];

  beforeAll(() => {
    V = JSON.parse(readFileSync(VOCAB_JSON, 'utf8')) as Record<string, number>;
    tok = ClipTokenizer.fromDir(VOCAB_DIR);
  });

  it('finds the special tokens by name', () => {
    expect(tok.sotId).toBe(49406);
    expect(tok.eotId).toBe(49407);
    expect(tok.vocabSize).toBe(49408);
    expect(tok.tokenIdOf('a</w>')).toBe(320);
    expect(tok.tokenIdOf('definitely-not-a-token')).toBeUndefined();
    expect(tok.tokenIdOf('toString')).toBeUndefined(); // no prototype leakage
  });

  it('matches the reference ids', () => {
    expect(tok.encode('a photo of a cat.')).toEqual([49406, 320, 1125, 539, 320, 2368, 269, 49407]);
    expect(tok.encode('hello world')).toEqual([49406, 3306, 1002, 49407]);
    // Same thing derived by looking the whole-word entries up in vocab.json.
    expect(tok.encode('a photo of a cat.')).toEqual(full('a</w>', 'photo</w>', 'of</w>', 'a</w>', 'cat</w>', '.</w>'));
    expect(tok.encodeBody('hello world')).toEqual(body('hello</w>', 'world</w>'));
  });

  it('splits digits into single-digit words', () => {
    expect(tok.encodeBody('2024')).toEqual(body('2</w>', '0</w>', '2</w>', '4</w>'));
    expect(tok.encodeBody('cat 42')).toEqual(body('cat</w>', '4</w>', '2</w>'));
  });

  it('handles punctuation and contractions', () => {
    expect(tok.encodeBody('hello!!!')).toEqual(body('hello</w>', '!!!</w>'));
    expect(tok.encodeBody("it's")).toEqual(body('it</w>', "'s</w>"));
    expect(tok.encodeBody("don't")).toEqual(body('don</w>', "'t</w>"));
    expect(tok.encodeBody('a cat.')).toEqual(body('a</w>', 'cat</w>', '.</w>'));
  });

  it('html-unescapes twice', () => {
    const amp = body('&</w>');
    expect(tok.encodeBody('&')).toEqual(amp);
    expect(tok.encodeBody('&amp;')).toEqual(amp);
    expect(tok.encodeBody('&amp;amp;')).toEqual(amp);
    expect(tok.encodeBody('&lt;b&gt;')).toEqual(body('<</w>', 'b</w>', '></w>'));
    expect(tok.encode('it&#39;s')).toEqual(tok.encode("it's"));
    expect(tok.encode('it&apos;s')).toEqual(tok.encode("it's"));
    expect(tok.encode('&#x41; cat')).toEqual(tok.encode('a cat'));
    expect(tok.encode('a&nbsp;cat')).toEqual(tok.encode('a cat'));
    expect(tok.encode('caf&eacute;')).toEqual(tok.encode('café'));
  });

  it('lower-cases and collapses whitespace', () => {
    const ref = tok.encode('a photo of a cat');
    expect(tok.encode('A Photo OF a CAT')).toEqual(ref);
    expect(tok.encode('  a   photo\n\tof a\u00a0cat  ')).toEqual(ref);
    expect(tok.encode('a photo\r\n\r\nof\u3000a cat\n')).toEqual(ref);
  });

  it('treats special-token text as the special token', () => {
    expect(tok.encodeBody('<|startoftext|>a<|endoftext|>')).toEqual([49406, 320, 49407]);
  });

  it('encodes unicode text losslessly', () => {
    const cases = ['café', 'naïve', 'crème brûlée', '😀', '👍🏽 thumbs up', '🇫🇷', '你好世界', '東京タワー', 'Привет мир', 'مرحبا', '한국어'];
    for (const text of cases) {
      const ids = tok.encodeBody(text);
      expect(ids.length).toBeGreaterThan(0);
      for (const id of ids) {
        expect(Number.isInteger(id) && id >= 0 && id < 49406).toBe(true);
      }
      expect(referenceDecode(V, ids)).toBe(text.toLowerCase());
    }
    // "é" is UTF-8 C3 A9 → byte chars "Ã©"; "café" is a whole-word vocab entry.
    expect(tok.encodeBody('café')).toEqual(body('cafÃ©</w>'));
    expect(wordsOf(V, tok.encodeBody('café naïve'))).toEqual(['café', 'naïve']);
  });

  it('matches ids from an independent implementation of the OpenAI algorithm', () => {
    // Produced once with a separately written Python port (html.unescape, `regex` module,
    // bytes_to_unicode, rank-ordered BPE) against the same vocab.json / merges.txt.
    expect(tok.encodeBody('café naïve 😀 你好世界')).toEqual([
      15304, 1097, 35689, 563, 7334, 47466, 254, 29290, 121, 19759, 244, 163, 243, 490,
    ]);
    expect(tok.encodeBody('👍🏽')).toEqual([43722]);
    expect(tok.encodeBody('東京タワー')).toEqual([48338, 21078, 105, 34941, 2429, 107, 30391]);
  });

  it('handles empty input', () => {
    expect(tok.encodeBody('')).toEqual([]);
    expect(tok.encode('   ')).toEqual([49406, 49407]);
  });

  it('rejects over-long prompts unless truncating', () => {
    const exact = Array(75).fill('a').join(' ');
    expect(tok.encode(exact)).toHaveLength(77);

    const long = Array(80).fill('a').join(' ');
    expect(() => tok.encode(long)).toThrow(TokenizerError);
    let message = '';
    try {
      tok.encode(long);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('82 tokens');
    expect(message).toContain('77');
    expect(message).toContain('a a a');
    expect(message).not.toContain(long); // prompt is abbreviated
    expect(() => tok.encode(Array(76).fill('a').join(' '))).toThrow(/78 tokens/);

    const ids = tok.encode(long, { truncate: true });
    expect(ids).toHaveLength(77);
    expect(ids[0]).toBe(49406);
    expect(ids[76]).toBe(49407);
    expect(ids.slice(1, 76)).toEqual(Array(75).fill(V['a</w>']));
  });

  it('honours a custom context length', () => {
    expect(() => tok.encode('a photo of a cat.', { contextLength: 5 })).toThrow(TokenizerError);
    expect(tok.encode('a photo of a cat.', { contextLength: 5, truncate: true })).toEqual(full('a</w>', 'photo</w>', 'of</w>'));
    expect(tok.encode('a photo of a cat.', { contextLength: 8 })).toHaveLength(8);
    expect(() => tok.encode('a', { contextLength: 1 })).toThrow(TokenizerError);
  });

  it('decode() inverts encode() up to normalisation', () => {
    expect(tok.decode(tok.encode('A Photo of a CAT.'))).toBe('a photo of a cat .');
    expect(tok.decode(tok.encode('café 😀'))).toBe('café 😀');
  });
});

// ---------------------------------------------------------------------------------------
// Loading errors
// ---------------------------------------------------------------------------------------

describe('ClipTokenizer loading errors', () => {
  const dir = useTmpDir('clip-tok-');

  it('names a missing vocab file', () => {
    const missing = path.join(dir, 'nope', 'vocab.json');
    expect(() => ClipTokenizer.fromFiles(missing, MERGES_TXT)).toThrow(TokenizerError);
    expect(() => ClipTokenizer.fromFiles(missing, MERGES_TXT)).toThrow(missing);
    expect(() => ClipTokenizer.fromDir(path.join(dir, 'nope'))).toThrow(missing);
  });

  it('names a missing merges file', () => {
    const missing = path.join(dir, 'merges-missing.txt');
    expect(() => ClipTokenizer.fromFiles(VOCAB_JSON, missing)).toThrow(missing);
  });

  it('names a vocab file with invalid JSON', () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{"a": 1,');
    expect(() => ClipTokenizer.fromFiles(bad, MERGES_TXT)).toThrow(/Invalid JSON.*bad\.json/);
    writeFileSync(bad, '[1, 2]');
    expect(() => ClipTokenizer.fromFiles(bad, MERGES_TXT)).toThrow(bad);
  });

  it('requires the special tokens', () => {
    expect(() => new ClipTokenizer({ a: 0, '<|endoftext|>': 1 }, [])).toThrow(/<\|startoftext\|>/);
    expect(() => new ClipTokenizer({ a: 0, '<|startoftext|>': 1 }, [])).toThrow(/<\|endoftext\|>/);
  });

  it('reports tokens missing from an incomplete vocab', () => {
    const t = new ClipTokenizer({ 'a</w>': 0, '<|startoftext|>': 1, '<|endoftext|>': 2 }, []);
    expect(t.encode('a')).toEqual([1, 0, 2]);
    expect(() => t.encode('b')).toThrow(/"b<\/w>" is not in the CLIP vocab/);
  });

  it('rejects malformed merges', () => {
    const bad = path.join(dir, 'merges-bad.txt');
    writeFileSync(bad, '#version: 0.2\ni n\nthree part rule\n');
    expect(() => ClipTokenizer.fromFiles(VOCAB_JSON, bad)).toThrow(/line 3 of .*merges-bad\.txt/);
  });
});

// ---------------------------------------------------------------------------------------
// HTML unescaping
// ---------------------------------------------------------------------------------------

describe('htmlUnescape', () => {
  it('decodes named and numeric references like Python html.unescape', () => {
    expect(htmlUnescape('&amp; &lt; &gt; &quot; &#39; &apos; &nbsp;')).toBe('& < > " \' \' \u00a0');
    expect(htmlUnescape('&#65;&#x42;&#X43;&#100')).toBe('ABCd');
    expect(htmlUnescape('&eacute;&hellip;&euro;&mdash;')).toBe('é…€—');
    expect(htmlUnescape('&amp')).toBe('&'); // legacy entity without ';'
    expect(htmlUnescape('&ampfoo')).toBe('&foo'); // longest legacy prefix
    expect(htmlUnescape('&notit;')).toBe('¬it;');
    expect(htmlUnescape('&hellip')).toBe('&hellip'); // not a legacy entity: needs ';'
    expect(htmlUnescape('&bogus; & x')).toBe('&bogus; & x');
    expect(htmlUnescape('&#150;&#0;&#xD800;&#x110000;&#1;')).toBe('–\ufffd\ufffd\ufffd');
    expect(htmlUnescape('&amp;amp;')).toBe('&amp;');
  });
});

// ---------------------------------------------------------------------------------------
// Tiny generated vocab
// ---------------------------------------------------------------------------------------

describe('tiny vocab', () => {
  const dir = useTmpDir('clip-tiny-');
  let tiny: ReturnType<typeof buildTinyVocab>;
  let tok: ClipTokenizer;

  beforeAll(() => {
    tiny = buildTinyVocab();
    writeVocabFiles(dir, tiny);
    tok = ClipTokenizer.fromDir(dir);
  });

  it('is deterministic', () => {
    expect(buildTinyVocab()).toEqual(tiny);
  });

  it('is a complete byte-level vocab laid out like CLIP', () => {
    const byteChars = [...referenceByteTable().values()];
    const size = Object.keys(tiny.vocab).length;
    expect(size).toBeLessThanOrEqual(1000);
    expect(tiny.merges.length).toBeGreaterThan(100);
    expect(size).toBe(512 + tiny.merges.length + 2);
    // ids are exactly 0..size-1
    expect([...Object.values(tiny.vocab)].sort((a, b) => a - b)).toEqual([...Array(size).keys()]);
    for (const ch of byteChars) {
      expect(tiny.vocab[ch]).toBeLessThan(256);
      expect(tiny.vocab[ch + '</w>']).toBe(tiny.vocab[ch] + 256);
    }
    expect(tiny.vocab['!']).toBe(0); // CLIP order: printable bytes first
    expect(tiny.vocab['<|startoftext|>']).toBe(size - 2);
    expect(tiny.vocab['<|endoftext|>']).toBe(size - 1);
    for (const m of tiny.merges) expect(tiny.vocab[m.replace(' ', '')]).toBeGreaterThanOrEqual(512);
  });

  it('writes CLIP-format files', () => {
    const merges = readFileSync(path.join(dir, 'merges.txt'), 'utf8').split('\n');
    expect(merges[0]).toBe('#version: 0.2');
    expect(merges.slice(1).filter((l) => l !== '')).toEqual(tiny.merges);
    expect(JSON.parse(readFileSync(path.join(dir, 'vocab.json'), 'utf8'))).toEqual(tiny.vocab);
  });

  it('looks up SOT/EOT by name', () => {
    const size = Object.keys(tiny.vocab).length;
    expect(tok.sotId).toBe(size - 2);
    expect(tok.eotId).toBe(size - 1);
    expect(tok.sotId).not.toBe(49406);
    expect(tok.vocabSize).toBe(size);
    const ids = tok.encode('a photo of a cat');
    expect(ids[0]).toBe(tok.sotId);
    expect(ids.at(-1)).toBe(tok.eotId);
  });

  it('merges common corpus words into single tokens', () => {
    expect(tok.encodeBody('photo')).toEqual([tiny.vocab['photo</w>']]);
    expect(tok.encodeBody('a photo of the cat')).toEqual(
      ['a</w>', 'photo</w>', 'of</w>', 'the</w>', 'cat</w>'].map((t) => tiny.vocab[t]),
    );
  });

  it('round-trips arbitrary text, including unicode', () => {
    const texts = ['a photo of a cat.', 'zebra xylophone quizzically', 'café naïve', '😀 👍🏽 🇫🇷', '你好世界', 'Привет', '2024!!! it\'s', '\u0000\u0001 control'];
    for (const text of texts) {
      const ids = tok.encodeBody(text);
      for (const id of ids) expect(id >= 0 && id < tok.vocabSize).toBe(true);
      const normalised = text.toLowerCase().replace(/\s+/g, ' ').trim();
      expect(referenceDecode(tiny.vocab, ids).replace(/ /g, '')).toBe(normalised.replace(/ /g, ''));
    }
    expect(referenceDecode(tiny.vocab, tok.encodeBody('café naïve 😀'))).toBe('café naïve 😀');
  });
});
