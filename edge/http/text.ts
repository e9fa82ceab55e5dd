// Names and labels are shown to people, sent to the CLIP tokenizer and written to logs: they must be
// plain text. Refused: control characters (C0, DEL, C1: NUL, line breaks, tabs, terminal escapes),
// unpaired UTF-16 surrogates (JSON "\ud800" escapes, which no UTF-8 store can keep) and U+FFFD (what a
// multipart field's invalid UTF-8 bytes decode to, so the original text is already lost).

const NOT_PLAIN_TEXT = /[\u0000-\u001f\u007f-\u009f\ufffd]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const PLAIN_TEXT_RULE =
  'must be plain UTF-8 text without control characters (NUL, line breaks, tabs, escape codes) or invalid characters';

/** True when `s` has none of the characters above. */
export function isPlainText(s: string): boolean {
  return !NOT_PLAIN_TEXT.test(s);
}
