"""CLIP's byte-level BPE tokenizer, written from the published algorithm (OpenAI CLIP's
simple_tokenizer: bytes_to_unicode table, text cleaning, pre-tokenizer pattern, greedy
lowest-rank merges, `</w>` on the last symbol of a word, [SOT] body [EOT]).

Part of the golden generator (tools/golden/make_clip_golden.py), a dev tool: the product and
its tests never import it. It shares no code with the product's tokenizer
(gpu-worker/clip/tokenizer.ts); the golden records the ids it made, and a test compares them
with the product's.

Two deliberate limits, both irrelevant to the golden's texts (which are plain ASCII):
  - ftfy.fix_text (mojibake repair) is not applied; it is the identity on clean ASCII.
  - The pattern's \\p{L} / \\p{N} classes are decided with unicodedata categories (L*, N*),
    because the standard library's `re` has no \\p{...}; the scanner below tries the
    pattern's alternatives in their published order at every position, as a regex
    alternation does.
"""

import html
import json
import unicodedata

SOT = "<|startoftext|>"
EOT = "<|endoftext|>"
CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def bytes_to_unicode():
    """GPT-2 / CLIP table: printable Latin-1 bytes map to themselves, the other 68 bytes
    to chr(256 + k) in byte order."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    table = {}
    extra = 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _is_space(ch):
    return ch.isspace()  # Python's \s for str patterns


def _is_letter(ch):
    return unicodedata.category(ch).startswith("L")


def _is_number(ch):
    return unicodedata.category(ch).startswith("N")


def clean(text):
    """basic_clean (without ftfy) + whitespace_clean + lower(), in the published order."""
    text = html.unescape(html.unescape(text)).strip()
    text = " ".join(part for part in _split_spaces(text) if part)
    return text.strip().lower()


def _split_spaces(text):
    out, cur = [], []
    for ch in text:
        if _is_space(ch):
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def pre_tokenize(text):
    """The published pattern
        <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+
    applied like re.findall: at each position the first alternative that matches wins;
    positions where none matches (whitespace) are skipped."""
    words = []
    i = 0
    n = len(text)
    while i < n:
        matched = None
        for special in (SOT, EOT):
            if text.startswith(special, i):
                matched = special
                break
        if matched is None:
            for c in CONTRACTIONS:
                if text.startswith(c, i):
                    matched = c
                    break
        if matched is None and _is_letter(text[i]):
            j = i
            while j < n and _is_letter(text[j]):
                j += 1
            matched = text[i:j]
        if matched is None and _is_number(text[i]):
            matched = text[i]
        if matched is None and not (_is_space(text[i]) or _is_letter(text[i]) or _is_number(text[i])):
            j = i
            while j < n and not (_is_space(text[j]) or _is_letter(text[j]) or _is_number(text[j])):
                j += 1
            matched = text[i:j]
        if matched is None:
            i += 1
        else:
            words.append(matched)
            i += len(matched)
    return words


class ClipBpe:
    def __init__(self, vocab_path, merges_path):
        with open(vocab_path, encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(merges_path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if lines and lines[0].startswith("#version"):
            lines = lines[1:]
        self.ranks = {}
        for line in lines:
            if not line:
                continue
            first, second = line.split(" ")
            self.ranks.setdefault((first, second), len(self.ranks))
        self.byte_table = bytes_to_unicode()
        self.sot = self.encoder[SOT]
        self.eot = self.encoder[EOT]

    def bpe(self, word):
        """Byte-encoded word → BPE symbols (lowest-rank adjacent pair merged first)."""
        symbols = list(word[:-1]) + [word[-1] + "</w>"]
        while len(symbols) > 1:
            pairs = [(symbols[k], symbols[k + 1]) for k in range(len(symbols) - 1)]
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged = []
            k = 0
            while k < len(symbols):
                if k < len(symbols) - 1 and (symbols[k], symbols[k + 1]) == best:
                    merged.append(symbols[k] + symbols[k + 1])
                    k += 2
                else:
                    merged.append(symbols[k])
                    k += 1
            symbols = merged
        return symbols

    def encode_body(self, text):
        ids = []
        for word in pre_tokenize(clean(text)):
            if word in (SOT, EOT):
                ids.append(self.encoder[word])
                continue
            encoded = "".join(self.byte_table[b] for b in word.encode("utf-8"))
            ids.extend(self.encoder[s] for s in self.bpe(encoded))
        return ids

    def encode(self, text):
        """[SOT] body [EOT], unpadded (callers pad to the context length with 0, as clip.tokenize)."""
        return [self.sot] + self.encode_body(text) + [self.eot]
