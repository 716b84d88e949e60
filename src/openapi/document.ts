import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../env';
import { SECURITY_SCHEMES } from './describe';

/**
 * The OpenAPI 3.1 document, generated from the routes' own declarations (`createRoute` in
 * src/routes/): what is routed is what is documented. JSON Schema 2020-12 is 3.1's own dialect.
 */

type Json = Record<string, unknown>;

const TAGS = [
  { name: 'generation', description: 'Generating images, and reading them back' },
  { name: 'usage', description: "Prices and the caller's own usage" },
  { name: 'admin: tenants', description: 'Tenants (teams), their budgets, limits and models' },
  { name: 'admin: keys', description: "Tenant keys; a key's plaintext is shown once" },
  { name: 'admin: models', description: 'Price rows and request limits per model' },
  { name: 'admin: usage', description: 'The usage ledger' },
  { name: 'meta', description: 'Health, this document and its viewer' },
];

/**
 * Descriptions for schemas whose zod carries none (the Qubrid body mirrors Qubrid's own API); the
 * limits live in the model's price row, not in the schema. A note for a property the schema no
 * longer has is an error, so a renamed field cannot keep a stale description.
 */
const NOTES: Record<string, { examples?: unknown[]; properties: Record<string, string> }> = {
  QubridGenerationRequest: {
    examples: [
      {
        model: 'stabilityai/stable-diffusion-3.5-large',
        positive_prompt: 'a lighthouse on a cliff at dawn, oil painting',
        negative_prompt: 'blurry',
        width: 1024,
        height: 1024,
        steps: 30,
        cfg: 7.5,
        seed: 42,
        output_format: 'png',
      },
    ],
    properties: {
      model: 'default stabilityai/stable-diffusion-3.5-large; must be a known model',
      positive_prompt: 'required, 1–10,000 characters (or its alias `prompt`)',
      prompt: 'alias of positive_prompt',
      width: "default 1024; within the model's limits (SD 3.5 Large: 256–2048, multiples of 16)",
      height: "default 1024; within the model's limits (SD 3.5 Large: 256–2048, multiples of 16)",
      steps: 'default 30 (SD 3.5 Large: 1–100; each step above the included 30 costs extra)',
      cfg: 'default 7.5 (SD 3.5 Large: 0–20)',
      seed: 'without one the gateway draws one and reports it in Imagegate-Seed; only a request with a seed is looked up in the cache',
      output_format: 'default png',
    },
  },
};

function annotated(id: string, schema: Json): Json {
  const note = NOTES[id];
  if (!note) return schema;
  const properties = { ...(schema.properties as Record<string, Json>) };
  for (const [name, description] of Object.entries(note.properties)) {
    const property = properties[name];
    if (!property) throw new Error(`a note for ${id}.${name}, which the schema does not have`);
    properties[name] = { description, ...property };
  }
  return { ...schema, properties, ...(note.examples ? { examples: note.examples } : {}) };
}

/**
 * Hono's `:model{.+}` (a path parameter that may hold a raw `/`) is declared as `{model{.+}}` so
 * the router gets the pattern; OpenAPI knows only `{model}`.
 */
function openApiPath(path: string): string {
  return path.replace(/\{(\w+)\{[^}]*\}\}/g, '{$1}');
}

export interface DocumentInfo {
  version: string;
}

/** The document of every route declared on `app` (and the apps mounted on it). */
export function buildDocument(app: OpenAPIHono<AppEnv>, info: DocumentInfo): Json {
  for (const [name, scheme] of Object.entries(SECURITY_SCHEMES)) {
    app.openAPIRegistry.registerComponent('securitySchemes', name, { ...scheme });
  }
  const doc = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'imagegate',
      version: info.version,
      description:
        'A gateway in front of paid text-to-image APIs: tenant keys, exact prices, budgets, rate limits, a cache of identical-seed results. Amounts are decimal strings of USD, exact to the nano-USD. Every error is `{"error": {code, type, message, param, request_id}}`.',
    },
    tags: TAGS,
  }) as unknown as Json & { paths?: Record<string, Json>; components?: { schemas?: Record<string, Json> } };
  const paths = Object.fromEntries(Object.entries(doc.paths ?? {}).map(([path, item]) => [openApiPath(path), item]));
  const schemas = Object.fromEntries(Object.entries(doc.components?.schemas ?? {}).map(([id, s]) => [id, annotated(id, s)]));
  return { ...doc, paths, components: { ...doc.components, schemas } };
}
