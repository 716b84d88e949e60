import type { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../../env';
import type { ModelAnswer, ModelListAnswer, PriceVersionsAnswer } from '../../schemas/answers';
import type { AdminAnswer } from '../admin-client';
import { ChangeNotices, DataTable, Empty, ErrorNotice, Panel, doneOf, field, when, type AfterChange, type Column } from '../components';
import { can, renderPage } from '../layout';
import type { ConsolePage } from '../page';
import { PriceForm, priceBody } from '../price-form';

/**
 * Models with their limits and every price version (docs/money.md, "Prices change"), read through
 * the admin API; owner and admin also get a form per model that adds a price version.
 */

type Models = z.infer<typeof ModelListAnswer>;
type Versions = z.infer<typeof PriceVersionsAnswer>;

const modelPath = (model: string) => `/admin/models/${encodeURIComponent(model)}`;
const DONE: Record<string, string> = { priced: 'Price set: the new version is in the table.' };

async function modelsView(c: Context<AppEnv>, extras: AfterChange = {}) {
  const admin = c.var.consoleAdmin;
  const list = await admin.get<Models>('/admin/models');
  const options = { title: 'Models and prices', current: '/console/models', status: extras.failure?.status ?? 200 } as const;
  if (!list.ok) return renderPage(c, { ...options, status: list.status }, <ErrorNotice failure={list} />);
  const versions = await Promise.all(list.data.data.map((m) => admin.get<Versions>(`${modelPath(m.model)}/prices`)));
  if (list.data.data.length === 0) return renderPage(c, options, <Empty>No models yet — add one with PUT /admin/models/{'{model}'} (docs/admin.md).</Empty>);
  const mayPrice = can(c.var.consoleSession.principal, 'PUT', '/admin/models/{model}');
  return renderPage(
    c,
    options,
    <>
      <ChangeNotices {...extras} said={DONE} />
      {list.data.data.map((m, i) => (
        <ModelPanel model={m} index={i} versions={versions[i] ?? null} mayPrice={mayPrice} />
      ))}
    </>,
  );
}

export const modelsPage: ConsolePage = {
  mount(routes) {
    routes.get('/models', (c) => modelsView(c, doneOf(c)));
    routes.post('/models/price', async function setPrice(c) {
      const form = await c.req.parseBody();
      const model = await c.var.consoleAdmin.get<z.infer<typeof ModelAnswer>>(modelPath(field(form, 'model') ?? ''));
      if (!model.ok) return modelsView(c, { failure: model });
      const put = await c.var.consoleAdmin.send('PUT', modelPath(model.data.model), priceBody(model.data, form));
      if (!put.ok) return modelsView(c, { failure: put });
      return c.redirect('/console/models?done=priced', 303);
    });
  },
};

function ModelPanel(props: { model: Models['data'][number]; index: number; versions: AdminAnswer<Versions> | null; mayPrice: boolean }) {
  const { model: m, versions: v } = props;
  return (
    <Panel title={m.model} id={`model-${props.index}`}>
      <p>
        Now {m.price_per_megapixel_usd} USD per megapixel, {m.included_steps} steps included, {m.price_per_extra_step_usd} USD per extra step · width {m.width.min}–
        {m.width.max} (×{m.width.multiple_of}) · height {m.height.min}–{m.height.max} (×{m.height.multiple_of}) · steps {m.steps.min}–{m.steps.max} · cfg {m.cfg.min}–
        {m.cfg.max}
      </p>
      {v && v.ok ? (
        <DataTable label={`Price versions of ${m.model}`} caption="Price versions, newest last" columns={PRICE_COLUMNS} rows={v.data.versions} />
      ) : (
        <ErrorNotice failure={v && !v.ok ? v : null} />
      )}
      {props.mayPrice ? (
        <>
          <h3>Set a new price</h3>
          <PriceForm model={m} index={props.index} />
          <p class="hint">A new version; a request already reserved is settled at the price it was reserved at. A future time schedules the change.</p>
        </>
      ) : null}
    </Panel>
  );
}

const PRICE_COLUMNS: Column<Versions['versions'][number]>[] = [
  { header: 'Version', cell: (p) => p.version, class: 'num' },
  { header: 'In force from', cell: (p) => (p.effective_at.startsWith('1970-') ? 'the start' : when(p.effective_at)) },
  { header: 'USD per megapixel', cell: (p) => p.price_per_megapixel_usd, class: 'num' },
  { header: 'Steps included', cell: (p) => p.included_steps, class: 'num' },
  { header: 'USD per extra step', cell: (p) => p.price_per_extra_step_usd, class: 'num' },
];
