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

export class TokenizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

// ---------------------------------------------------------------------------------------
// HTML character references (Python `html.unescape` semantics)
//
// - Numeric references `&#NNN;` / `&#xHH;` (trailing `;` optional), including the HTML5
//   fix-ups: windows-1252 remapping of 0x80..0x9F, U+FFFD for NUL / surrogates /
//   out-of-range values, and removal of the "invalid" control / non-character code points.
// - Named references from a table of common entities. As in HTML5 (and Python), the legacy
//   entities (`&amp`, `&lt`, the Latin-1 set, ...) are also recognised without the trailing
//   semicolon, using the longest matching prefix (`&ampfoo` → `&foo`).
// ---------------------------------------------------------------------------------------

/** Latin-1 entities, code points 160..255 in order. All are "legacy" (semicolon optional). */
const LATIN1_NAMES = [
  'nbsp', 'iexcl', 'cent', 'pound', 'curren', 'yen', 'brvbar', 'sect',
  'uml', 'copy', 'ordf', 'laquo', 'not', 'shy', 'reg', 'macr',
  'deg', 'plusmn', 'sup2', 'sup3', 'acute', 'micro', 'para', 'middot',
  'cedil', 'sup1', 'ordm', 'raquo', 'frac14', 'frac12', 'frac34', 'iquest',
  'Agrave', 'Aacute', 'Acirc', 'Atilde', 'Auml', 'Aring', 'AElig', 'Ccedil',
  'Egrave', 'Eacute', 'Ecirc', 'Euml', 'Igrave', 'Iacute', 'Icirc', 'Iuml',
  'ETH', 'Ntilde', 'Ograve', 'Oacute', 'Ocirc', 'Otilde', 'Ouml', 'times',
  'Oslash', 'Ugrave', 'Uacute', 'Ucirc', 'Uuml', 'Yacute', 'THORN', 'szlig',
  'agrave', 'aacute', 'acirc', 'atilde', 'auml', 'aring', 'aelig', 'ccedil',
  'egrave', 'eacute', 'ecirc', 'euml', 'igrave', 'iacute', 'icirc', 'iuml',
  'eth', 'ntilde', 'ograve', 'oacute', 'ocirc', 'otilde', 'ouml', 'divide',
  'oslash', 'ugrave', 'uacute', 'ucirc', 'uuml', 'yacute', 'thorn', 'yuml',
];

/** Other legacy entities (semicolon optional). */
const LEGACY_OTHER: Record<string, number> = {
  amp: 0x26, AMP: 0x26, lt: 0x3c, LT: 0x3c, gt: 0x3e, GT: 0x3e,
  quot: 0x22, QUOT: 0x22, COPY: 0xa9, REG: 0xae,
};

/** Entities that require the trailing semicolon. */
const SEMICOLON_ONLY: Record<string, number | string> = {
  apos: 0x27, Tab: 0x09, NewLine: 0x0a, excl: 0x21, num: 0x23, dollar: 0x24,
  percnt: 0x25, lpar: 0x28, rpar: 0x29, ast: 0x2a, plus: 0x2b, comma: 0x2c,
  period: 0x2e, sol: 0x2f, colon: 0x3a, semi: 0x3b, equals: 0x3d, quest: 0x3f,
  commat: 0x40, lsqb: 0x5b, lbrack: 0x5b, bsol: 0x5c, rsqb: 0x5d, rbrack: 0x5d,
  Hat: 0x5e, lowbar: 0x5f, grave: 0x60, lcub: 0x7b, lbrace: 0x7b, verbar: 0x7c,
  vert: 0x7c, rcub: 0x7d, rbrace: 0x7d, NonBreakingSpace: 0xa0,
  OElig: 0x152, oelig: 0x153, Scaron: 0x160, scaron: 0x161, Yuml: 0x178,
  fnof: 0x192, circ: 0x2c6, tilde: 0x2dc,
  Alpha: 0x391, Beta: 0x392, Gamma: 0x393, Delta: 0x394, Epsilon: 0x395, Zeta: 0x396,
  Eta: 0x397, Theta: 0x398, Iota: 0x399, Kappa: 0x39a, Lambda: 0x39b, Mu: 0x39c,
  Nu: 0x39d, Xi: 0x39e, Omicron: 0x39f, Pi: 0x3a0, Rho: 0x3a1, Sigma: 0x3a3,
  Tau: 0x3a4, Upsilon: 0x3a5, Phi: 0x3a6, Chi: 0x3a7, Psi: 0x3a8, Omega: 0x3a9,
  alpha: 0x3b1, beta: 0x3b2, gamma: 0x3b3, delta: 0x3b4, epsilon: 0x3b5, zeta: 0x3b6,
  eta: 0x3b7, theta: 0x3b8, iota: 0x3b9, kappa: 0x3ba, lambda: 0x3bb, mu: 0x3bc,
  nu: 0x3bd, xi: 0x3be, omicron: 0x3bf, pi: 0x3c0, rho: 0x3c1, sigmaf: 0x3c2,
  sigma: 0x3c3, tau: 0x3c4, upsilon: 0x3c5, phi: 0x3c6, chi: 0x3c7, psi: 0x3c8,
  omega: 0x3c9, thetasym: 0x3d1, upsih: 0x3d2, piv: 0x3d6,
  ensp: 0x2002, emsp: 0x2003, thinsp: 0x2009, zwnj: 0x200c, zwj: 0x200d,
  lrm: 0x200e, rlm: 0x200f, hyphen: 0x2010, dash: 0x2010, ndash: 0x2013, mdash: 0x2014,
  lsquo: 0x2018, rsquo: 0x2019, sbquo: 0x201a, ldquo: 0x201c, rdquo: 0x201d,
  bdquo: 0x201e, dagger: 0x2020, Dagger: 0x2021, bull: 0x2022, bullet: 0x2022,
  hellip: 0x2026, mldr: 0x2026, permil: 0x2030, prime: 0x2032, Prime: 0x2033,
  lsaquo: 0x2039, rsaquo: 0x203a, oline: 0x203e, frasl: 0x2044, euro: 0x20ac,
  image: 0x2111, weierp: 0x2118, real: 0x211c, trade: 0x2122, TRADE: 0x2122,
  alefsym: 0x2135, larr: 0x2190, uarr: 0x2191, rarr: 0x2192, darr: 0x2193,
  harr: 0x2194, crarr: 0x21b5, lArr: 0x21d0, uArr: 0x21d1, rArr: 0x21d2,
  dArr: 0x21d3, hArr: 0x21d4, forall: 0x2200, part: 0x2202, exist: 0x2203,
  empty: 0x2205, nabla: 0x2207, isin: 0x2208, notin: 0x2209, ni: 0x220b,
  prod: 0x220f, sum: 0x2211, minus: 0x2212, lowast: 0x2217, radic: 0x221a,
  prop: 0x221d, infin: 0x221e, ang: 0x2220, and: 0x2227, or: 0x2228, cap: 0x2229,
  cup: 0x222a, int: 0x222b, there4: 0x2234, sim: 0x223c, cong: 0x2245,
  asymp: 0x2248, ne: 0x2260, equiv: 0x2261, le: 0x2264, ge: 0x2265, sub: 0x2282,
  sup: 0x2283, nsub: 0x2284, sube: 0x2286, supe: 0x2287, oplus: 0x2295,
  otimes: 0x2297, perp: 0x22a5, sdot: 0x22c5, lceil: 0x2308, rceil: 0x2309,
  lfloor: 0x230a, rfloor: 0x230b, lang: 0x27e8, rang: 0x27e9, loz: 0x25ca,
  spades: 0x2660, clubs: 0x2663, hearts: 0x2665, diams: 0x2666, check: 0x2713,
  cross: 0x2717, star: 0x2606, starf: 0x2605, phone: 0x260e, female: 0x2640,
  male: 0x2642, sharp: 0x266f, flat: 0x266d, natural: 0x266e, half: 0xbd,
  frac13: 0x2153, frac23: 0x2154, frac18: 0x215b,
};

/** name (without `&`, with or without `;`) → replacement text. */
const NAMED = new Map<string, string>();
function addEntity(name: string, value: number | string, legacy: boolean): void {
  const text = typeof value === 'number' ? String.fromCodePoint(value) : value;
  NAMED.set(name + ';', text);
  if (legacy) NAMED.set(name, text);
}
LATIN1_NAMES.forEach((name, i) => addEntity(name, 160 + i, true));
for (const [name, cp] of Object.entries(LEGACY_OTHER)) addEntity(name, cp, true);
for (const [name, cp] of Object.entries(SEMICOLON_ONLY)) {
  if (!NAMED.has(name + ';')) addEntity(name, cp, false);
}

/** HTML5 remapping of numeric references in 0x80..0x9F (windows-1252), plus NUL and CR. */
const WIN1252: Record<number, number> = {
  0x00: 0xfffd, 0x0d: 0x0d, 0x80: 0x20ac, 0x81: 0x81, 0x82: 0x201a, 0x83: 0x192,
  0x84: 0x201e, 0x85: 0x2026, 0x86: 0x2020, 0x87: 0x2021, 0x88: 0x2c6, 0x89: 0x2030,
  0x8a: 0x160, 0x8b: 0x2039, 0x8c: 0x152, 0x8d: 0x8d, 0x8e: 0x17d, 0x8f: 0x8f,
  0x90: 0x90, 0x91: 0x2018, 0x92: 0x2019, 0x93: 0x201c, 0x94: 0x201d, 0x95: 0x2022,
  0x96: 0x2013, 0x97: 0x2014, 0x98: 0x2dc, 0x99: 0x2122, 0x9a: 0x161, 0x9b: 0x203a,
  0x9c: 0x153, 0x9d: 0x9d, 0x9e: 0x17e, 0x9f: 0x178,
};

/** Code points that numeric references silently drop (controls and non-characters). */
function isDroppedCodePoint(cp: number): boolean {
  if ((cp >= 0x1 && cp <= 0x8) || cp === 0xb || (cp >= 0xe && cp <= 0x1f)) return true;
  if (cp >= 0x7f && cp <= 0x9f) return true;
  if (cp >= 0xfdd0 && cp <= 0xfdef) return true;
  return (cp & 0xfffe) === 0xfffe; // U+xxFFFE / U+xxFFFF on every plane
}

function decodeNumeric(digits: string, hex: boolean): string {
  // Over-long digit strings are certainly out of range; avoid float precision games.
  const trimmed = digits.replace(/^0+/, '');
  const num = trimmed.length > 8 ? Infinity : parseInt(trimmed || '0', hex ? 16 : 10);
  const remapped = WIN1252[num];
  if (remapped !== undefined) return String.fromCodePoint(remapped);
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  if (isDroppedCodePoint(num)) return '';
  return String.fromCodePoint(num);
}

const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

/** Decode HTML character references once (Python `html.unescape` semantics). */
export function htmlUnescape(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(CHARREF, (_m, ref: string) => {
    if (ref[0] === '#') {
      const hex = ref[1] === 'x' || ref[1] === 'X';
      const digits = ref.slice(hex ? 2 : 1).replace(/;$/, '');
      return decodeNumeric(digits, hex);
    }
    const exact = NAMED.get(ref);
    if (exact !== undefined) return exact;
    // Longest legacy (semicolon-less) prefix, at least two characters long.
    for (let len = ref.length - 1; len > 1; len--) {
      const hit = NAMED.get(ref.slice(0, len));
      if (hit !== undefined) return hit + ref.slice(len);
    }
    return '&' + ref;
  });
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
