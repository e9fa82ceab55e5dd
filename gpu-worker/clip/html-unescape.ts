// HTML character references, decoded with Python `html.unescape` semantics (CLIP's tokenizer
// unescapes every prompt twice).
//
// - Numeric references `&#NNN;` / `&#xHH;` (trailing `;` optional), including the HTML5
//   fix-ups: windows-1252 remapping of 0x80..0x9F, U+FFFD for NUL / surrogates /
//   out-of-range values, and removal of the "invalid" control / non-character code points.
// - Named references from a table of common entities. As in HTML5 (and Python), the legacy
//   entities (`&amp`, `&lt`, the Latin-1 set, ...) are also recognised without the trailing
//   semicolon, using the longest matching prefix (`&ampfoo` → `&foo`).

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

