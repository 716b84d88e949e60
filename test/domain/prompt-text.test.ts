import { describe, expect, it } from 'vitest';
import { promptProblem } from '../../src/domain/prompt-text';

describe('promptProblem', () => {
  const fine: [string, string][] = [
    ['plain English', 'a lighthouse at dusk, oil painting'],
    ['one visible character', 'a'],
    ['surrounded by spaces and zero-width characters', '\u200B  cat \uFEFF'],
    ['emoji', '🐱 in a spacesuit 🚀'],
    ['an emoji alone', '🐱'],
    ['an emoji ZWJ sequence (joiners between visible characters)', '👩\u200D🚀'],
    ['an emoji with a variation selector', '❤\uFE0F'],
    ['a flag (regional indicators)', '🇯🇵'],
    ['Chinese', '山水画，水墨风格'],
    ['Japanese', '富士山と桜、浮世絵風'],
    ['Korean', '한옥 마을의 겨울 풍경'],
    ['Arabic (right to left)', 'قطة تجلس على نافذة'],
    ['Hebrew with a right-to-left mark', '\u200Fחתול על חלון'],
    ['Hindi with combining vowel signs', 'नदी के किनारे एक मंदिर'],
    ['Thai', 'วัดในยามเช้า'],
    ['Cyrillic', 'кот в сапогах'],
    ['Greek with accents', 'ένας γάτος'],
    ['a newline and tab between words', 'a cat\n\tsleeping'],
    ['digits only', '42'],
    ['punctuation only', '?!'],
  ];
  for (const [name, text] of fine) {
    it(`accepts ${name}`, () => {
      expect(promptProblem(text, 'positive_prompt')).toBeNull();
    });
  }

  const VISIBLE = "'positive_prompt' must contain a visible character";
  const invisible: [string, string][] = [
    ['an empty string', ''],
    ['spaces', '   '],
    ['tabs and newlines', '\t\n\r\n'],
    ['a zero-width space', '\u200B'],
    ['zero-width non-joiner and joiner', '\u200C\u200D'],
    ['a word joiner', '\u2060'],
    ['a byte order mark', '\uFEFF'],
    ['a mix of zero-width characters and spaces', ' \u200B\u200C \u200D\u2060\uFEFF '],
    ['no-break and ideographic spaces', '\u00A0\u3000\u2003'],
    ['line and paragraph separators', '\u2028\u2029'],
    ['control characters', '\u0007\u001B\u007F\u0085'],
    ['directional marks and isolates', '\u200E\u200F\u2066\u2069\u202E'],
    ['a soft hyphen', '\u00AD'],
    ['a variation selector alone', '\uFE0F'],
    ['Hangul fillers', '\u3164\u115F'],
    ['tag characters', '\u{E0041}\u{E0042}'],
  ];
  for (const [name, text] of invisible) {
    it(`refuses ${name}`, () => {
      expect(promptProblem(text, 'positive_prompt')).toBe(VISIBLE);
    });
  }

  const broken: [string, string, string][] = [
    ['a NUL among words', 'a cat\u0000 on a mat', "'positive_prompt' must not contain NUL (U+0000)"],
    ['a NUL alone', '\u0000', "'positive_prompt' must not contain NUL (U+0000)"],
    ['a lone high surrogate', 'cat \uD83D', "'positive_prompt' must not contain an unpaired surrogate"],
    ['a lone low surrogate', '\uDC31 cat', "'positive_prompt' must not contain an unpaired surrogate"],
    ['a surrogate pair in the wrong order', '\uDC31\uD83D', "'positive_prompt' must not contain an unpaired surrogate"],
    ['a good pair next to a lone half', '🐱\uD83D', "'positive_prompt' must not contain an unpaired surrogate"],
  ];
  for (const [name, text, message] of broken) {
    it(`refuses ${name}`, () => {
      expect(promptProblem(text, 'positive_prompt')).toBe(message);
    });
  }

  it('names the field it was given', () => {
    expect(promptProblem('\u200B', 'prompt')).toBe("'prompt' must contain a visible character");
    expect(promptProblem('x\u0000', 'negative_prompt')).toBe("'negative_prompt' must not contain NUL (U+0000)");
    expect(promptProblem('\uD800', 'prompt')).toBe("'prompt' must not contain an unpaired surrogate");
  });

  it("agrees with the runtime's String.prototype.isWellFormed", () => {
    const isWellFormed = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed;
    expect(isWellFormed).toBeTypeOf('function');
    if (isWellFormed === undefined) return;
    for (const text of ['🐱', 'a\uD83D', '\uDC31', '\uD83D\uDC31', 'plain', '\uDC31\uD83D']) {
      const unpaired = promptProblem(text, 'p')?.includes('unpaired') ?? false;
      expect(unpaired).toBe(!isWellFormed.call(text));
    }
  });
});
