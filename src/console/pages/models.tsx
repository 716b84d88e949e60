import type { z } from '@hono/zod-openapi';
import type { ModelListAnswer, PriceVersionsAnswer } from '../../schemas/answers';
import type { AdminAnswer } from '../admin-client';
import { Empty, ErrorNotice, Panel, TableWrap, when } from '../components';
import { renderPage } from '../layout';
import type { ConsolePage } from '../page';

/** Models with their limits and every price version (docs/money.md, "Prices change"), read through the admin API. */

type Models = z.infer<typeof ModelListAnswer>;
type Versions = z.infer<typeof PriceVersionsAnswer>;

export const modelsPage: ConsolePage = {
  mount(routes) {
    routes.get('/models', async function models(c) {
      const admin = c.var.consoleAdmin;
      const list = await admin.get<Models>('/admin/models');
      const options = { title: 'Models and prices', current: '/console/models' } as const;
      if (!list.ok) return renderPage(c, { ...options, status: list.status }, <ErrorNotice failure={list} />);
      const versions = await Promise.all(list.data.data.map((m) => admin.get<Versions>(`/admin/models/${encodeURIComponent(m.model)}/prices`)));
      if (list.data.data.length === 0) return renderPage(c, options, <Empty>No models yet — add one with PUT /admin/models/{'{model}'} (docs/admin.md).</Empty>);
      return renderPage(
        c,
        options,
        <>
          {list.data.data.map((m, i) => (
            <ModelPanel model={m} index={i} versions={versions[i] ?? null} />
          ))}
        </>,
      );
    });
  },
};

function ModelPanel(props: { model: Models['data'][number]; index: number; versions: AdminAnswer<Versions> | null }) {
  const { model: m, versions: v } = props;
  return (
    <Panel title={m.model} id={`model-${props.index}`}>
      <p>
        Now {m.price_per_megapixel_usd} USD per megapixel, {m.included_steps} steps included, {m.price_per_extra_step_usd} USD per extra step · width {m.width.min}–
        {m.width.max} (×{m.width.multiple_of}) · height {m.height.min}–{m.height.max} (×{m.height.multiple_of}) · steps {m.steps.min}–{m.steps.max} · cfg {m.cfg.min}–
        {m.cfg.max}
      </p>
      {v && v.ok ? <PriceTable model={m.model} versions={v.data.versions} /> : <ErrorNotice failure={v && !v.ok ? v : null} />}
    </Panel>
  );
}

function PriceTable(props: { model: string; versions: Versions['versions'] }) {
  return (
    <TableWrap label={`Price versions of ${props.model}`}>
      <table>
        <caption>Price versions, newest last</caption>
        <thead>
          <tr>
            <th scope="col" class="num">Version</th>
            <th scope="col">In force from</th>
            <th scope="col" class="num">USD per megapixel</th>
            <th scope="col" class="num">Steps included</th>
            <th scope="col" class="num">USD per extra step</th>
          </tr>
        </thead>
        <tbody>
          {props.versions.map((p) => (
            <tr>
              <th scope="row" class="num">
                {p.version}
              </th>
              <td>{p.effective_at.startsWith('1970-') ? 'the start' : when(p.effective_at)}</td>
              <td class="num">{p.price_per_megapixel_usd}</td>
              <td class="num">{p.included_steps}</td>
              <td class="num">{p.price_per_extra_step_usd}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
