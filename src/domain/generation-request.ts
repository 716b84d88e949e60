import { z } from 'zod';
import type { FieldProblem } from './failure';
import { DEFAULT_MODEL, REQUEST_DEFAULTS, type ModelSpec, type Range } from './models';
import { promptProblem as textProblem } from './prompt-text';

export const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const MAX_PROMPT_CHARS = 10_000;
export const MAX_SEED = 4_294_967_295;

/**
 * Prompt lengths count characters (Unicode code points), not UTF-16 units: a 10,000-character
 * prompt of emoji or CJK is as long as one of ASCII letters to the person who wrote it.
 */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}
const withinPromptLimit = (s: string) => charCount(s) <= MAX_PROMPT_CHARS;

/**
 * An integer field with both ends in its one message (`must be an integer from 0 to 4294967295`),
 * whichever end or the integer rule it missed; the edge adds the field's name and the value sent.
 */
export function intFrom(min: number, max: number) {
  const message = `must be an integer from ${min} to ${max}`;
  return z.int({ error: message }).min(min, message).max(max, message);
}

/**
 * The prompt check for a schema: a prompt of only invisible characters, or with NUL or an unpaired
 * surrogate, would be paid for and draw nothing meant (src/domain/prompt-text.ts). The message
 * names `field` itself.
 */
export function visiblePrompt(field: string) {
  return (text: string, ctx: z.RefinementCtx) => {
    const message = textProblem(text, field);
    if (message) ctx.addIssue({ code: 'custom', message });
  };
}

/**
 * A generation with every default written out: the fields that shape the pixels. Both generation
 * routes produce this, so one image has one cache key and one price whichever route asked for it.
 */
export interface GenerationRequest {
  model: string;
  prompt: string;
  negative_prompt: string;
  width: number;
  height: number;
  steps: number;
  cfg: number;
  /** null when the client sent none; the gateway then draws one (see drawSeed). */
  seed: number | null;
  output_format: OutputFormat;
}

/** A request whose seed is settled, as sent to an origin. */
export type SeededRequest = GenerationRequest & { seed: number };

/**
 * The Qubrid body (docs/generation.md). Strict: an unknown field is a 400 naming it, because a misspelt
 * `step` silently falling back to a default would spend money on the wrong image.
 */
export const QubridBodySchema = z.strictObject({
  model: z.string().min(1).max(200).optional(),
  positive_prompt: z.string().superRefine(visiblePrompt('positive_prompt')).optional(),
  prompt: z.string().superRefine(visiblePrompt('prompt')).optional(),
  negative_prompt: z.string().refine(withinPromptLimit, `must be at most ${MAX_PROMPT_CHARS} characters`).optional(),
  width: z.int().optional(),
  height: z.int().optional(),
  steps: z.int().optional(),
  cfg: z.number().optional(),
  seed: intFrom(0, MAX_SEED).optional(),
  output_format: z.enum(OUTPUT_FORMATS).optional(),
});
export type QubridBody = z.infer<typeof QubridBodySchema>;

/** A request that passed its checks, or the first field that did not. */
export type Checked<T> = { ok: true; value: T } | { ok: false; problem: FieldProblem };

const problem = (param: string, message: string): { ok: false; problem: FieldProblem } => ({ ok: false, problem: { param, message } });

/** Checks `value` against a model's range (and step), naming the field when it is out. */
function rangeProblem(param: string, value: number, range: Range & { multipleOf?: number }): FieldProblem | null {
  if (value < range.min || value > range.max) return { param, message: `'${param}' must be between ${range.min} and ${range.max}, got ${value}` };
  if (range.multipleOf && value % range.multipleOf !== 0) return { param, message: `'${param}' must be a multiple of ${range.multipleOf}, got ${value}` };
  return null;
}

function promptProblem(param: string, prompt: string | undefined): FieldProblem | null {
  if (prompt === undefined) return { param, message: `'${param}' is required` };
  if (prompt.length < 1 || charCount(prompt) > MAX_PROMPT_CHARS) return { param, message: `'${param}' must be 1 to ${MAX_PROMPT_CHARS} characters` };
  return null;
}

/** Applies defaults and a model's limits to fields already of the right types. */
export function checkAgainstModel(
  fields: Omit<GenerationRequest, 'width' | 'height' | 'steps' | 'cfg'> &
    Partial<Pick<GenerationRequest, 'width' | 'height' | 'steps' | 'cfg'>>,
  spec: ModelSpec,
  names: { width?: string; height?: string } = {},
): Checked<GenerationRequest> {
  const width = fields.width ?? REQUEST_DEFAULTS.width;
  const height = fields.height ?? REQUEST_DEFAULTS.height;
  const steps = fields.steps ?? REQUEST_DEFAULTS.steps;
  const cfg = fields.cfg ?? REQUEST_DEFAULTS.cfg;
  const found =
    rangeProblem(names.width ?? 'width', width, spec.width) ??
    rangeProblem(names.height ?? 'height', height, spec.height) ??
    rangeProblem('steps', steps, spec.steps) ??
    rangeProblem('cfg', cfg, spec.cfg);
  if (found) return { ok: false, problem: found };
  return { ok: true, value: { ...fields, width, height, steps, cfg } };
}

/** Turns a parsed Qubrid body into a GenerationRequest, once the model's spec is known. */
export function fromQubridBody(body: QubridBody, spec: ModelSpec): Checked<GenerationRequest> {
  if (body.prompt !== undefined && body.positive_prompt !== undefined) {
    return problem('prompt', "send 'positive_prompt' or its alias 'prompt', not both");
  }
  const param = body.prompt !== undefined && body.positive_prompt === undefined ? 'prompt' : 'positive_prompt';
  const prompt = body.positive_prompt ?? body.prompt;
  const bad = promptProblem(param, prompt);
  if (bad || prompt === undefined) return { ok: false, problem: bad ?? { param, message: `'${param}' is required` } };
  return checkAgainstModel(
    {
      model: spec.model,
      prompt,
      negative_prompt: body.negative_prompt ?? REQUEST_DEFAULTS.negative_prompt,
      width: body.width,
      height: body.height,
      steps: body.steps,
      cfg: body.cfg,
      seed: body.seed ?? null,
      output_format: body.output_format ?? REQUEST_DEFAULTS.output_format,
    },
    spec,
  );
}

export function requestedModel(body: { model?: string }): string {
  return body.model ?? DEFAULT_MODEL;
}

/**
 * A seed for a request that sent none: 1–4294967294, never 0 or 2^32−1, which some origins read
 * as "pick a random one" (and then the image could not be reproduced from the reported seed).
 */
function drawSeed(): number {
  const [n = 0] = crypto.getRandomValues(new Uint32Array(1));
  return 1 + (n % (MAX_SEED - 1));
}

/**
 * The first of `count` consecutive drawn seeds (n > 1 on the OpenAI route), chosen so the whole run
 * stays within drawSeed's range.
 */
export function drawSeedRun(count: number): number {
  return Math.min(drawSeed(), MAX_SEED - count);
}
