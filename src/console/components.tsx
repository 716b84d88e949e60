import type { Context } from 'hono';
import type { Child } from 'hono/jsx';
import type { AppEnv } from '../env';
import type { AdminFailure } from './admin-client';

/** Small pieces every console page uses. */

/** What the admin API said when it refused a change or a read: its own message, and the field. */
export function ErrorNotice(props: { failure: AdminFailure | null }) {
  const f = props.failure;
  if (!f) return null;
  return (
    <div class="notice error" role="alert">
      <strong>{f.code.replace(/_/g, ' ')}</strong>: {f.message}
      {f.param ? <> (field <code>{f.param}</code>)</> : null}
    </div>
  );
}

export function OkNotice(props: { children: Child }) {
  return (
    <div class="notice ok" role="status">
      {props.children}
    </div>
  );
}

/** What a page shows after a change: the admin API's refusal, or the `?done=` word its redirect after a success carried. */
export interface AfterChange {
  failure?: AdminFailure;
  done?: string;
}

/** The `?done=` word in the address a redirect after a change led to, if any. */
export function doneOf(c: Context<AppEnv>): AfterChange {
  const done = c.req.query('done');
  return done === undefined ? {} : { done };
}

/** The refusal, or the page's own sentence (one of `said`) for what was done. */
export function ChangeNotices(props: AfterChange & { said: Record<string, string> }) {
  const said = props.done !== undefined && Object.hasOwn(props.said, props.done) ? props.said[props.done] : undefined;
  return (
    <>
      <ErrorNotice failure={props.failure ?? null} />
      {said ? <OkNotice>{said}</OkNotice> : null}
    </>
  );
}

/**
 * A key's plaintext or a webhook's secret, shown this once, with a copy button (the one use of the
 * console's script). `kept` says what the gateway keeps of it: only its hash unless told.
 */
export function SecretReveal(props: { id: string; label: string; secret: string; kept?: string; children?: Child }) {
  return (
    <div class="notice ok" role="status">
      <strong>{props.label}</strong> — shown this once; {props.kept ?? 'the gateway keeps only its hash'}.
      <div class="secret">
        <code id={props.id}>{props.secret}</code>
        <button type="button" data-copy={props.id}>
          Copy
        </button>
      </div>
      {props.children}
    </div>
  );
}

export function Empty(props: { children: Child }) {
  return <p class="empty">{props.children}</p>;
}

export function Panel(props: { title: string; id?: string; children: Child }) {
  const headingId = `${props.id ?? props.title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-h`;
  return (
    <section class="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{props.title}</h2>
      {props.children}
    </section>
  );
}

/** Where a tenant's console page is. */
export function tenantPath(id: string): string {
  return `/console/tenants/${encodeURIComponent(id)}`;
}

/** One column of a `DataTable`: its heading, and what each row shows in it. */
export interface Column<Row> {
  header: Child;
  cell: (row: Row) => Child;
  /** On the heading and every cell: `num` aligns figures right, `wide-only` hides the column on a phone. */
  class?: 'num' | 'wide-only';
  /** On the cells alone, e.g. `mono` for values shown as written. */
  cellClass?: string;
}

/**
 * A console table: one heading per column (`scope="col"`), the first column heads its row
 * (`scope="row"`). With `empty`, no rows show that sentence instead of an empty table. A wide table
 * scrolls on its own on a phone, in a region named `label` that the keyboard can focus to scroll it.
 */
export function DataTable<Row>(props: { label: string; caption?: string; columns: readonly Column<Row>[]; rows: readonly Row[]; empty?: Child }) {
  if (props.rows.length === 0 && props.empty !== undefined) return <Empty>{props.empty}</Empty>;
  const cellClass = (column: Column<Row>) => [column.class, column.cellClass].filter(Boolean).join(' ') || undefined;
  return (
    <div class="table-wrap" role="region" aria-label={props.label} tabindex={0}>
      <table>
        {props.caption ? <caption>{props.caption}</caption> : null}
        <thead>
          <tr>
            {props.columns.map((column) => (
              <th scope="col" class={column.class}>
                {column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr>
              {props.columns.map((column, i) =>
                i === 0 ? (
                  <th scope="row" class={cellClass(column)}>
                    {column.cell(row)}
                  </th>
                ) : (
                  <td class={cellClass(column)}>{column.cell(row)}</td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A table's first column naming a tenant, linked to its page. */
export function tenantColumn(header: string): Column<{ id: string; name: string }> {
  return { header, cell: (t) => <a href={tenantPath(t.id)}>{t.name}</a> };
}

export function Stat(props: { label: string; value: string }) {
  return (
    <div class="stat">
      <div class="label">{props.label}</div>
      <div class="value">{props.value}</div>
    </div>
  );
}

/** `2026-11-29T10:04:05.123Z` as `2026-11-29 10:04 UTC`. */
export function when(iso: string | null): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : '—';
}

/** A form field's text, or undefined when left empty. */
export function field(form: Record<string, string | File | (string | File)[]>, name: string): string | undefined {
  const value = form[name];
  const text = typeof value === 'string' ? value.trim() : undefined;
  return text === '' ? undefined : text;
}

/** A whole number typed into a form, as a number; anything else as typed, for the admin API to refuse by name. */
export function numberOrText(text: string | undefined): number | string | undefined {
  return text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : text;
}
