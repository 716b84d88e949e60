import type { z } from '@hono/zod-openapi';
import type { ModelAnswer } from '../schemas/answers';
import { field, numberOrText } from './components';

/**
 * The form that sets a model's price (docs/money.md, "Prices change"). PUT /admin/models/{model}
 * replaces the whole row, so the body carries the model's limits as they stand, read from the
 * admin API just before; only the price, and when it comes into force, come from the form.
 */

type Model = z.infer<typeof ModelAnswer>;
type Form = Record<string, string | File | (string | File)[]>;

/** `2026-12-01T09:00` from a datetime-local field is read as UTC; anything else goes as typed, for the admin API to judge. */
function effectiveAt(text: string | undefined): string | undefined {
  return text !== undefined && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(text) ? `${text}:00Z` : text;
}

export function priceBody(model: Model, form: Form): Record<string, unknown> {
  const at = effectiveAt(field(form, 'effective_at'));
  return {
    price_per_megapixel_usd: field(form, 'price_per_megapixel_usd') ?? '',
    included_steps: numberOrText(field(form, 'included_steps')) ?? '',
    price_per_extra_step_usd: field(form, 'price_per_extra_step_usd') ?? '',
    width: model.width,
    height: model.height,
    steps: model.steps,
    cfg: model.cfg,
    ...(at === undefined ? {} : { effective_at: at }),
  };
}

export function PriceForm(props: { model: Model; index: number }) {
  const m = props.model;
  const p = `price-${props.index}`;
  return (
    <form class="stack" method="post" action="/console/models/price">
      <input type="hidden" name="model" value={m.model} />
      <label for={`${p}-mp`}>
        USD per megapixel
        <input id={`${p}-mp`} name="price_per_megapixel_usd" value={m.price_per_megapixel_usd} inputmode="decimal" required autocomplete="off" />
      </label>
      <label for={`${p}-steps`}>
        Steps included
        <input id={`${p}-steps`} name="included_steps" value={String(m.included_steps)} inputmode="numeric" required autocomplete="off" />
      </label>
      <label for={`${p}-extra`}>
        USD per extra step
        <input id={`${p}-extra`} name="price_per_extra_step_usd" value={m.price_per_extra_step_usd} inputmode="decimal" required autocomplete="off" />
      </label>
      <label for={`${p}-at`}>
        In force from (UTC; empty: now)
        <input id={`${p}-at`} name="effective_at" type="datetime-local" autocomplete="off" />
      </label>
      <div>
        <button type="submit" aria-label={`Set the price of ${m.model}`}>
          Set price
        </button>
      </div>
    </form>
  );
}
