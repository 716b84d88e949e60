import { BUDGET_PERIODS } from '../domain/budget-period';
import { field, numberOrText } from './components';

/**
 * The tenant and key forms, and how their fields become an admin API body. Every check is the
 * admin API's: a value it refuses comes back as its own message, naming the field.
 */

type Form = Record<string, string | File | (string | File)[]>;

/** `none` clears a limit or a budget (null); empty leaves it as it is. */
function limitOf(form: Form, name: string): number | string | null | undefined {
  const text = field(form, name);
  return text?.toLowerCase() === 'none' ? null : numberOrText(text);
}

function budgetOf(form: Form): string | null | undefined {
  const text = field(form, 'budget_usd');
  return text?.toLowerCase() === 'none' ? null : text;
}

/**
 * Alert thresholds typed as comma-separated percents (`50, 80, 100`): `none` is no alert at all,
 * empty leaves them as they are. A part that is not a whole number goes as typed, for the admin API
 * to refuse by name (`alert_thresholds`).
 */
function thresholdsOf(form: Form): (number | string)[] | undefined {
  const text = field(form, 'alert_thresholds');
  if (text === undefined) return undefined;
  if (text.toLowerCase() === 'none') return [];
  return text.split(',').map((part) => numberOrText(part.trim().replace(/%$/, '')) ?? '');
}

/** How the forms show thresholds: `50, 80, 100`, or none. */
export function thresholdsText(thresholds: readonly number[] | undefined): string {
  if (thresholds === undefined) return '';
  return thresholds.length === 0 ? 'none' : thresholds.join(', ');
}

function defined(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

export function tenantBody(form: Form): Record<string, unknown> {
  return defined({
    name: field(form, 'name'),
    budget_usd: budgetOf(form),
    budget_period: field(form, 'budget_period'),
    rate_limit_rpm: limitOf(form, 'rate_limit_rpm'),
    max_concurrent: limitOf(form, 'max_concurrent'),
    alert_thresholds: thresholdsOf(form),
  });
}

export function keyBody(form: Form): Record<string, unknown> {
  return defined({ name: field(form, 'name'), budget_usd: budgetOf(form), budget_period: field(form, 'budget_period'), alert_thresholds: thresholdsOf(form) });
}

export interface LimitValues {
  name?: string;
  budget_usd?: string | null;
  budget_period?: string;
  rate_limit_rpm?: number | null;
  max_concurrent?: number | null;
  alert_thresholds?: number[];
}

function ThresholdsField(props: { id: string; value?: readonly number[] | undefined }) {
  return (
    <label for={props.id}>
      Alerts at (% of budget, or none)
      <input id={props.id} name="alert_thresholds" value={thresholdsText(props.value)} inputmode="numeric" placeholder="50, 80, 100" autocomplete="off" />
    </label>
  );
}

function PeriodSelect(props: { id: string; value?: string | undefined; keep?: boolean }) {
  return (
    <label for={props.id}>
      Budget period
      <select id={props.id} name="budget_period">
        {props.keep ? <option value="">(unchanged)</option> : null}
        {BUDGET_PERIODS.map((p) => (
          <option value={p} selected={p === props.value}>
            {p}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Create (no values) or change a tenant: name, budget, period, rate and concurrency limits. */
export function TenantForm(props: { action: string; idPrefix: string; values?: LimitValues; submit: string }) {
  const v = props.values;
  const p = props.idPrefix;
  const shown = (n: number | null | undefined) => (n === null ? 'none' : n === undefined ? '' : String(n));
  return (
    <form class="stack" method="post" action={props.action}>
      <label for={`${p}-name`}>
        Name
        <input id={`${p}-name`} name="name" value={v?.name ?? ''} required={!v} maxlength={200} autocomplete="off" />
      </label>
      <label for={`${p}-budget`}>
        Budget (USD, or none)
        <input id={`${p}-budget`} name="budget_usd" value={v ? (v.budget_usd ?? 'none') : ''} inputmode="decimal" placeholder="e.g. 50" autocomplete="off" />
      </label>
      <PeriodSelect id={`${p}-period`} value={v?.budget_period ?? 'month'} />
      <label for={`${p}-rpm`}>
        Requests per minute (or none)
        <input id={`${p}-rpm`} name="rate_limit_rpm" value={shown(v?.rate_limit_rpm)} inputmode="numeric" autocomplete="off" />
      </label>
      <label for={`${p}-conc`}>
        Requests in flight (or none)
        <input id={`${p}-conc`} name="max_concurrent" value={shown(v?.max_concurrent)} inputmode="numeric" autocomplete="off" />
      </label>
      <ThresholdsField id={`${p}-alerts`} value={v?.alert_thresholds} />
      <div>
        <button type="submit">{props.submit}</button>
      </div>
    </form>
  );
}

export function KeyForm(props: { action: string }) {
  return (
    <form class="stack" method="post" action={props.action}>
      <label for="key-name">
        Key name
        <input id="key-name" name="name" required maxlength={200} autocomplete="off" placeholder="e.g. ci" />
      </label>
      <label for="key-budget">
        Budget (USD, empty for none)
        <input id="key-budget" name="budget_usd" inputmode="decimal" autocomplete="off" />
      </label>
      <PeriodSelect id="key-period" value="month" />
      <ThresholdsField id="key-alerts" />
      <div>
        <button type="submit">Create key</button>
      </div>
    </form>
  );
}
