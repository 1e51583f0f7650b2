/**
 * Parses a request body the way Feast's Python clients write it. Two things JSON.parse gets
 * wrong for them:
 *
 * - Python writes an int as all its digits, and int64 entity ids past 2^53 are common (hashed
 *   ids); JSON.parse would round them to another id, silently. Such integers are read as decimal
 *   text instead, which every int64 and int32 conversion takes (and range-checks).
 * - Python's json writes NaN, Infinity and -Infinity as bare words, which are not JSON; they are
 *   read as the strings "NaN", "Infinity", "-Infinity", which the float conversions take.
 *
 * Bodies without a 16-digit run or those words (nearly all) go straight to JSON.parse.
 */

const NEEDS_REWRITE = /\d{16}|NaN|Infinity/;

const INTEGER = /^-?\d+$/;

export function parseFeastJson(text: string): unknown {
  if (!NEEDS_REWRITE.test(text)) return JSON.parse(text);
  return JSON.parse(rewriteTokens(text));
}

const NON_FINITE_WORDS = ['NaN', 'Infinity', '-Infinity'] as const;

/** Quotes unsafe integers and non-finite words outside strings; everything else is kept as is. */
function rewriteTokens(text: string): string {
  let out = '';
  let copied = 0;
  let i = 0;
  const length = text.length;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Skip the string, escapes included.
      i++;
      while (i < length) {
        const s = text.charCodeAt(i);
        if (s === 0x5c /* \ */) i += 2;
        else if (s === 0x22) break;
        else i++;
      }
      i++;
      continue;
    }
    const word =
      c === 0x4e /* N */ || c === 0x49 /* I */ || c === 0x2d /* - */
        ? NON_FINITE_WORDS.find((w) => text.startsWith(w, i))
        : undefined;
    if (word !== undefined) {
      out += `${text.slice(copied, i)}"${word}"`;
      i += word.length;
      copied = i;
      continue;
    }
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      while (end < length && isNumberChar(text.charCodeAt(end))) end++;
      const token = text.slice(i, end);
      if (INTEGER.test(token) && !Number.isSafeInteger(Number(token))) {
        out += `${text.slice(copied, i)}"${token}"`;
        copied = end;
      }
      i = end;
      continue;
    }
    i++;
  }
  return out + text.slice(copied);
}

function isNumberChar(c: number): boolean {
  // Digits, '.', 'e', 'E', '+', '-'.
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}
