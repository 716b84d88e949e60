import type { Context } from 'hono';
import type { AppEnv } from '../../env';
import { renderBare } from '../layout';
import { signIn, signOut } from '../session';
import { field } from '../components';
import type { ConsolePage } from '../page';

/** Sign-in and sign-out (docs/console.md). The only console routes that need no session. */

function SignInForm(props: { error?: string }) {
  return (
    <div class="signin">
      <h1>imagegate console</h1>
      {props.error ? (
        <div class="notice error" role="alert">
          <strong>Not signed in</strong>: {props.error}
        </div>
      ) : null}
      <form method="post" action="/console/sign-in">
        <label for="token">
          ADMIN_TOKEN or an admin token (iga_…)
          <input id="token" name="token" type="password" required autocomplete="off" autofocus />
        </label>
        <div>
          <button type="submit">Sign in</button>
        </div>
      </form>
      <p class="hint">The token is checked once and never kept by the browser: a session cookie stands in for it for 8 hours or until you sign out.</p>
    </div>
  );
}

function disabled(c: Context<AppEnv>) {
  return renderBare(c, 'Sign in', <SignInForm error="the console is disabled: ADMIN_TOKEN is not set" />, 503);
}

export const signInPage: ConsolePage = {
  mount(routes) {
    routes.get('/sign-in', (c) => (c.env.ADMIN_TOKEN ? renderBare(c, 'Sign in', <SignInForm />) : disabled(c)));
    routes.post('/sign-in', async function signInForm(c) {
      if (!c.env.ADMIN_TOKEN) return disabled(c);
      const token = field(await c.req.parseBody(), 'token');
      const principal = token === undefined ? null : await signIn(c, token);
      if (!principal) return renderBare(c, 'Sign in', <SignInForm error="that token is not ADMIN_TOKEN nor a live admin token" />, 401);
      return c.redirect('/console', 303);
    });
  },
};

/** Needs the session (the sign-out is audited as its principal), so it is mounted after the session check. */
export const signOutPage: ConsolePage = {
  mount(routes) {
    routes.post('/sign-out', async function signOutForm(c) {
      await signOut(c);
      return c.redirect('/console/sign-in', 303);
    });
  },
};
