/**
 * CLIP byte-level BPE tokenizer with the exact semantics of OpenAI's `SimpleTokenizer`
 * (and Hugging Face `CLIPTokenizer` for the same vocab):
 *
 *   text → html-unescape ×2 → collapse whitespace + trim → lower-case
 *        → split with the CLIP pre-tokenizer regex
 *        → per word: UTF-8 bytes → GPT-2 byte-unicode chars, `</w>` on the last symbol,
 *          greedy lowest-rank BPE merges → vocab ids
 *   ids  = [<|startoftext|>, ...body, <|endoftext|>]  (77 ids max by default)
 *
 * OpenAI additionally runs `ftfy.fix_text`; that (mojibake repair) is not reproduced here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { htmlUnescape } from './html-unescape.ts';

export { htmlUnescape } from './html-unescape.ts';

export class TokenizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

// ---------------------------------------------------------------------------------------
// Text normalisation and pre-tokenisation
// ---------------------------------------------------------------------------------------

/**
 * Python's `\s` for `str` patterns (= `str.isspace()`), which is what CLIP's
 * `whitespace_clean` uses. Differs from JS `\s`: includes U+001C..U+001F and U+0085,
 * excludes U+FEFF.
 */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WHITESPACE_RUN = new RegExp(`[${PY_SPACE}]+`, 'gu');

/** CLIP's pre-tokenizer pattern (OpenAI `SimpleTokenizer.pat`). */
const PRETOKENIZE = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^${PY_SPACE}\\p{L}\\p{N}]+`,
  'giu',
);

export const SOT_TOKEN = '<|startoftext|>';
export const EOT_TOKEN = '<|endoftext|>';
const END_OF_WORD = '</w>';

/** CLIP text cleaning: html-unescape twice, collapse whitespace, trim, lower-case. */
export function normalizeText(text: string): string {
  const unescaped = htmlUnescape(htmlUnescape(text));
  // After collapsing, the only whitespace left is single spaces, so trimming means removing
  // one leading/trailing space. (JS `trim()` would also strip U+FEFF, which Python keeps.)
  return unescaped.replace(WHITESPACE_RUN, ' ').replace(/^ | $/g, '').toLowerCase();
}

/**
 * U+0345 COMBINING GREEK YPOGEGRAMMENI case-folds to a letter (ι). Under IGNORECASE, Python's
 * `regex` (used by CLIP) matches it with none of the pattern's alternatives, so it is skipped
 * and splits the surrounding word; JS `/iu` instead treats it as a letter. Turning it into a
 * space before matching reproduces the Python behaviour exactly (a space is skipped too).
 * It is the only code point where the two engines classify differently.
 */
const YPOGEGRAMMENI = /\u0345/g;

/** Normalise `text` and split it into CLIP pre-tokens ("words"). */
export function preTokenize(text: string): string[] {
  return normalizeText(text).replace(YPOGEGRAMMENI, ' ').match(PRETOKENIZE) ?? [];
}

let byteTable: string[] | undefined;

/**
 * The GPT-2 reversible byte → unicode-character table: printable Latin-1 bytes map to
 * themselves, the remaining 68 bytes map to U+0100.. in byte order. Index = byte value.
 * `bytesToUnicode()` lists the characters in CLIP's vocab order (printable ones first).
 */
export function byteToUnicodeTable(): readonly string[] {
  if (byteTable) return byteTable;
  const table = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : next++);
  }
  byteTable = table;
  return table;
}

/** The 256 byte characters in CLIP vocab order (ids 0..255 of the CLIP vocab). */
export function bytesToUnicode(): string[] {
  const table = byteToUnicodeTable();
  const printable: string[] = [];
  const rest: string[] = [];
  for (let b = 0; b < 256; b++) (table[b].charCodeAt(0) === b ? printable : rest).push(table[b]);
  return [...printable, ...rest];
}

const utf8 = new TextEncoder();

/** UTF-8 encode a word and map every byte to its byte-unicode character. */
export function byteEncode(word: string): string {
  const table = byteToUnicodeTable();
  let out = '';
  for (const b of utf8.encode(word)) out += table[b];
  return out;
}

// ---------------------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------------------

export interface TokenizeOptions {
  /** Cut over-long prompts to fit instead of throwing (EOT is always kept last). */
  truncate?: boolean;
  /** Total sequence length including SOT and EOT. Default 77. */
  contextLength?: number;
}

export const DEFAULT_CONTEXT_LENGTH = 77;
/** Bound on the per-word BPE cache so a long-running worker cannot grow without limit. */
const MAX_CACHE_ENTRIES = 100_000;

function describePrompt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const chars = Array.from(flat);
  return JSON.stringify(chars.length > 60 ? chars.slice(0, 60).join('') + '…' : flat);
}

function readTextFile(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new TokenizerError(`Cannot read CLIP ${what} file ${file}: ${reason}`);
  }
}

/** Parse a CLIP merges.txt: skip the `#version` header and blank lines. */
export function parseMerges(text: string, source = 'merges.txt'): string[] {
  const lines = text.split('\n');
  const merges: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line === '') continue;
    if (i === 0 && line.startsWith('#version')) continue;
    const sp = line.indexOf(' ');
    if (sp <= 0 || sp === line.length - 1 || line.indexOf(' ', sp + 1) !== -1) {
      throw new TokenizerError(`Invalid merge rule on line ${i + 1} of ${source}: ${JSON.stringify(line)}`);
    }
    merges.push(line);
  }
  return merges;
}

export class ClipTokenizer {
  readonly sotId: number;
  readonly eotId: number;
  /** Embedding-table size needed for this vocab: max id + 1. */
  readonly vocabSize: number;

  private readonly encoder = new Map<string, number>();
  private readonly decoder = new Map<number, string>();
  /** "a b" → merge priority (lower merges first). */
  private readonly ranks = new Map<string, number>();
  /** byte-encoded word → ids. */
  private readonly cache = new Map<string, number[]>();

  static fromFiles(vocabJsonPath: string, mergesTxtPath: string): ClipTokenizer {
    const vocabText = readTextFile(vocabJsonPath, 'vocab');
    let vocab: unknown;
    try {
      vocab = JSON.parse(vocabText);
    } catch (err) {
      throw new TokenizerError(`Invalid JSON in CLIP vocab file ${vocabJsonPath}: ${(err as Error).message}`);
    }
    if (vocab === null || typeof vocab !== 'object' || Array.isArray(vocab)) {
      throw new TokenizerError(`CLIP vocab file ${vocabJsonPath} must contain a JSON object of token → id`);
    }
    const merges = parseMerges(readTextFile(mergesTxtPath, 'merges'), mergesTxtPath);
    try {
      return new ClipTokenizer(vocab as Record<string, number>, merges);
    } catch (err) {
      if (err instanceof TokenizerError) {
        throw new TokenizerError(`${err.message} (vocab ${vocabJsonPath}, merges ${mergesTxtPath})`);
      }
      throw err;
    }
  }

  static fromDir(dir: string): ClipTokenizer {
    return ClipTokenizer.fromFiles(path.join(dir, 'vocab.json'), path.join(dir, 'merges.txt'));
  }

  constructor(vocab: Record<string, number>, merges: string[]) {
    let maxId = -1;
    for (const token in vocab) {
      if (!Object.prototype.hasOwnProperty.call(vocab, token)) continue;
      const id = vocab[token];
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
        throw new TokenizerError(`CLIP vocab entry ${JSON.stringify(token)} has invalid id ${JSON.stringify(id)}`);
      }
      this.encoder.set(token, id);
      if (!this.decoder.has(id)) this.decoder.set(id, token);
      if (id > maxId) maxId = id;
    }
    this.vocabSize = maxId + 1;

    for (let i = 0; i < merges.length; i++) {
      const m = merges[i];
      const sp = m.indexOf(' ');
      if (sp <= 0 || sp === m.length - 1 || m.indexOf(' ', sp + 1) !== -1) {
        throw new TokenizerError(`Invalid merge rule #${i}: ${JSON.stringify(m)} (expected "left right")`);
      }
      // First occurrence wins, as with a rank dict built from the file order.
      if (!this.ranks.has(m)) this.ranks.set(m, i);
    }

    const sot = this.encoder.get(SOT_TOKEN);
    const eot = this.encoder.get(EOT_TOKEN);
    if (sot === undefined || eot === undefined) {
      const missing = [sot === undefined ? SOT_TOKEN : null, eot === undefined ? EOT_TOKEN : null].filter(Boolean);
      throw new TokenizerError(`CLIP vocab is missing special token(s) ${missing.join(', ')}`);
    }
    this.sotId = sot;
    this.eotId = eot;
  }

  tokenIdOf(token: string): number | undefined {
    return this.encoder.get(token);
  }

  /** BPE ids for `text` without SOT/EOT. */
  encodeBody(text: string): number[] {
    const ids: number[] = [];
    for (const word of preTokenize(text)) {
      if (word === SOT_TOKEN) ids.push(this.sotId);
      else if (word === EOT_TOKEN) ids.push(this.eotId);
      else for (const id of this.encodeWord(byteEncode(word))) ids.push(id);
    }
    return ids;
  }

  /** `[SOT, ...body, EOT]`; throws `TokenizerError` if longer than the context unless truncating. */
  encode(text: string, opts: TokenizeOptions = {}): number[] {
    const contextLength = opts.contextLength ?? DEFAULT_CONTEXT_LENGTH;
    if (!Number.isInteger(contextLength) || contextLength < 2) {
      throw new TokenizerError(`contextLength must be an integer >= 2, got ${contextLength}`);
    }
    let body = this.encodeBody(text);
    const total = body.length + 2;
    if (total > contextLength) {
      if (!opts.truncate) {
        throw new TokenizerError(
          `Prompt ${describePrompt(text)} is ${total} tokens long (including start/end tokens), ` +
            `which exceeds the CLIP context length of ${contextLength}; shorten it or enable truncation`,
        );
      }
      body = body.slice(0, contextLength - 2);
    }
    return [this.sotId, ...body, this.eotId];
  }

  /**
   * Inverse of `encode` up to normalisation: ids → text, `</w>` becoming a space.
   * SOT/EOT are dropped. Invalid UTF-8 is replaced by U+FFFD.
   */
  decode(ids: readonly number[]): string {
    const table = byteToUnicodeTable();
    const byteOf = new Map<string, number>();
    table.forEach((ch, b) => byteOf.set(ch, b));
    const bytes: number[] = [];
    for (const id of ids) {
      if (id === this.sotId || id === this.eotId) continue;
      const token = this.decoder.get(id);
      if (token === undefined) throw new TokenizerError(`Token id ${id} is not in the CLIP vocab`);
      const eow = token.endsWith(END_OF_WORD);
      const core = eow ? token.slice(0, -END_OF_WORD.length) : token;
      for (const ch of core) {
        const b = byteOf.get(ch);
        if (b === undefined) throw new TokenizerError(`Token ${JSON.stringify(token)} is not byte-level`);
        bytes.push(b);
      }
      if (eow) bytes.push(0x20);
    }
    return new TextDecoder().decode(new Uint8Array(bytes)).trimEnd();
  }

  /** BPE-merge one byte-encoded word (with `</w>` on its last symbol) and map to ids. */
  private encodeWord(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;

    // Byte-unicode characters are all in the BMP, so code units == symbols.
    let symbols: string[] = word.split('');
    symbols[symbols.length - 1] += END_OF_WORD;

    while (symbols.length > 1) {
      let bestRank = Infinity;
      let bestPair = '';
      for (let i = 0; i < symbols.length - 1; i++) {
        const pair = symbols[i] + ' ' + symbols[i + 1];
        const rank = this.ranks.get(pair);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          bestPair = pair;
        }
      }
      if (bestRank === Infinity) break;
      const sp = bestPair.indexOf(' ');
      const first = bestPair.slice(0, sp);
      const second = bestPair.slice(sp + 1);
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; ) {
        if (i < symbols.length - 1 && symbols[i] === first && symbols[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(symbols[i]);
          i += 1;
        }
      }
      symbols = merged;
    }

    const ids = symbols.map((s) => {
      const id = this.encoder.get(s);
      if (id === undefined) {
        throw new TokenizerError(
          `BPE token ${JSON.stringify(s)} is not in the CLIP vocab (the vocab is not byte-complete?)`,
        );
      }
      return id;
    });
    if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.clear();
    this.cache.set(word, ids);
    return ids;
  }
}
