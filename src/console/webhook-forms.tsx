import { WEBHOOK_EVENT_TYPES } from '../domain/webhook-events';
import { field } from './components';

/**
 * The form that creates a webhook endpoint, and how its fields become the admin API's body. The
 * checks (URL, event names, the tenant a tenant admin may name) are the admin API's own.
 */

type Form = Record<string, string | File | (string | File)[]>;

/** Every checked value of a repeated field (`events`), as text. */
function checked(form: Form, name: string): string[] {
  const value = form[name];
  const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return values.filter((v): v is string => typeof v === 'string' && v !== '');
}

/** `tenant_id`: a tenant, or every tenant (null) when the select says so; a fixed tenant rides in a hidden field. */
export function webhookBody(form: Form): Record<string, unknown> {
  const events = checked(form, 'events');
  const tenant = field(form, 'tenant_id');
  const description = field(form, 'description');
  return {
    url: field(form, 'url') ?? '',
    // "all" wins over single types; none checked is sent as none, for the admin API to refuse by name
    events: events.includes('*') ? ['*'] : events,
    tenant_id: tenant === undefined || tenant === '*' ? null : tenant,
    ...(description === undefined ? {} : { description }),
  };
}

/** The tenant choice: a select of every tenant for owner and admin, or a tenant admin's own tenant, fixed. */
export type TenantChoice = { fixed: { id: string } } | { choose: { id: string; name: string }[] };

function TenantField(props: { tenants: TenantChoice }) {
  const t = props.tenants;
  if ('fixed' in t) {
    return (
      <p class="hint">
        For tenant <code>{t.fixed.id}</code>
        <input type="hidden" name="tenant_id" value={t.fixed.id} />
      </p>
    );
  }
  return (
    <label for="wh-tenant">
      Tenant
      <select id="wh-tenant" name="tenant_id">
        <option value="*">every tenant</option>
        {t.choose.map((x) => (
          <option value={x.id}>{x.name}</option>
        ))}
      </select>
    </label>
  );
}

export function WebhookForm(props: { tenants: TenantChoice }) {
  return (
    <form class="stack" method="post" action="/console/webhooks">
      <label for="wh-url">
        URL
        <input id="wh-url" name="url" type="url" required maxlength={2048} autocomplete="off" placeholder="https://hooks.example.com/imagegate" />
      </label>
      <TenantField tenants={props.tenants} />
      <label for="wh-description">
        Description
        <input id="wh-description" name="description" maxlength={500} autocomplete="off" placeholder="e.g. finance alerts" />
      </label>
      <fieldset class="choices">
        <legend>Events</legend>
        <label class="check">
          <input type="checkbox" name="events" value="*" /> all, and any added later
        </label>
        {WEBHOOK_EVENT_TYPES.map((type) => (
          <label class="check">
            <input type="checkbox" name="events" value={type} /> <code>{type}</code>
          </label>
        ))}
      </fieldset>
      <div>
        <button type="submit">Add webhook</button>
      </div>
    </form>
  );
}
