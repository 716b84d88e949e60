import type { FieldProblem } from './failure';

/**
 * Tags split a tenant's bill by project, feature or end user (docs/money.md, "Splitting the bill").
 * A generation carries at most MAX_TAGS name=value pairs; they come from the key's `default_tags`,
 * the OpenAI route's `user` field and the `Imagegate-Tags` header, later sources winning per name.
 */
export type Tags = Readonly<Record<string, string>>;

export const MAX_TAGS = 8;
export const TAGS_HEADER = 'Imagegate-Tags';
const NAME = /^[a-z0-9_.-]{1,32}$/;
/** Printable: no control characters (C0, DEL, C1); `,` and `=` would make the header ambiguous. */
const VALUE = /^[^\u0000-\u001f\u007f-\u009f,=]{1,64}$/u;

/** Why a name or a value is refused; null when it passes. */
export function tagProblem(name: string, value: string): string | null {
  if (!NAME.test(name)) return `tag name '${name.slice(0, 40)}' must be 1 to 32 of a-z, 0-9, '_', '.', '-'`;
  if (!VALUE.test(value) || value.trim() !== value) {
    return `tag '${name}' needs a value of 1 to 64 printable characters without ',' or '=' (and no surrounding spaces)`;
  }
  return null;
}

/** Checks a whole set (a key's `default_tags`, or a merged set); `param` names where it came from. */
export function checkTags(tags: Record<string, string>, param: string): FieldProblem | null {
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS) return { param, message: `at most ${MAX_TAGS} tags, got ${entries.length}` };
  for (const [name, value] of entries) {
    const problem = tagProblem(name, value);
    if (problem) return { param, message: problem };
  }
  return null;
}

/** `project=checkout, feature=thumbnails` → tags; absent or blank → none. A repeated name is refused. */
export function parseTagsHeader(header: string | undefined): { ok: true; tags: Tags } | { ok: false; problem: FieldProblem } {
  const problem = (message: string) => ({ ok: false as const, problem: { param: TAGS_HEADER, message } });
  if (header === undefined || header.trim() === '') return { ok: true, tags: {} };
  const tags: Record<string, string> = {};
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return problem(`each tag is name=value, separated by commas; got '${part.trim().slice(0, 40)}'`);
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (Object.hasOwn(tags, name)) return problem(`tag '${name}' is given twice`);
    tags[name] = value;
  }
  const checked = checkTags(tags, TAGS_HEADER);
  return checked ? { ok: false, problem: checked } : { ok: true, tags };
}

/**
 * The tags a generation carries: each source in order, a later one winning per name. A request may
 * bring up to MAX_TAGS of its own; the key's defaults that would push the set past MAX_TAGS are
 * dropped, so a key's defaults never make a valid request invalid.
 */
export function mergeTags(defaults: Tags, ...own: Tags[]): Tags {
  const mine: Record<string, string> = Object.assign({}, ...own);
  const merged: Record<string, string> = {};
  for (const [name, value] of Object.entries(defaults)) {
    if (!Object.hasOwn(mine, name) && Object.keys(merged).length + Object.keys(mine).length < MAX_TAGS) merged[name] = value;
  }
  return { ...merged, ...mine };
}
