/**
 * Prompt text an origin would be paid to draw nothing from (docs/admin.md, "Bodies"): a
 * prompt of only invisible characters, or one that no origin can be sent intact.
 */

/**
 * Characters that show nothing on their own: controls (Cc), format characters such as the
 * zero-width space, joiners, word joiner and BOM (Cf), separators (Z), other white space, and the
 * default-ignorable code points (variation selectors, Hangul fillers) that fonts draw as nothing.
 */
const INVISIBLE = /^[\p{Cc}\p{Cf}\p{Z}\p{White_Space}\p{Default_Ignorable_Code_Point}]*$/u;

/**
 * With the `u` flag a surrogate half that is not part of a pair is matched as a code point of its
 * own (category Cs), while a proper pair is one astral code point: so this finds exactly the
 * unpaired ones, as `!String.prototype.isWellFormed()` would (which the ES2022 lib does not type).
 */
const UNPAIRED_SURROGATE = /\p{Cs}/u;

/**
 * Why `text` is not a usable prompt, as a message naming `field` (`positive_prompt`, `prompt`,
 * `negative_prompt`); null when it is fine.
 */
export function promptProblem(text: string, field: string): string | null {
  if (text.includes('\u0000')) return `'${field}' must not contain NUL (U+0000)`;
  if (UNPAIRED_SURROGATE.test(text)) return `'${field}' must not contain an unpaired surrogate`;
  if (INVISIBLE.test(text)) return `'${field}' must contain a visible character`;
  return null;
}
