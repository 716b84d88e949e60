import { env } from 'cloudflare:test';
import { call, unique } from '../helpers/api';

/** The tag rows of one generation, as D1 holds them. */
export async function tagsOf(generationId: string): Promise<Record<string, string>> {
  const { results } = await env.DB.prepare('SELECT name, value FROM ledger_tags WHERE generation_id = ? ORDER BY name')
    .bind(generationId)
    .all<{ name: string; value: string }>();
  return Object.fromEntries(results.map((r) => [r.name, r.value]));
}

/** A model of its own (so a price change touches no other test), with SD 3.5 Large's limits and the given prices. */
export async function ownModel(prices: { perMegapixel: string; perStep?: string; included?: number }): Promise<string> {
  const model = unique('attr/model').toLowerCase();
  const r = await putPrice(model, prices);
  if (r.status !== 201) throw new Error(`creating a model: ${r.status} ${r.text()}`);
  return model;
}

export function putPrice(model: string, prices: { perMegapixel: string; perStep?: string; included?: number }, effectiveAt?: string) {
  return call('PUT', `/admin/models/${encodeURIComponent(model)}`, {
    admin: true,
    json: {
      price_per_megapixel_usd: prices.perMegapixel,
      included_steps: prices.included ?? 30,
      price_per_extra_step_usd: prices.perStep ?? '0.00005',
      width: { min: 256, max: 2048, multiple_of: 16 },
      height: { min: 256, max: 2048, multiple_of: 16 },
      steps: { min: 1, max: 100 },
      cfg: { min: 0, max: 20 },
      ...(effectiveAt === undefined ? {} : { effective_at: effectiveAt }),
    },
  });
}
