// "Continue with …" on the sign-in and sign-up pages: one button per provider the server is
// configured with (GET /social-providers), each starting Better Auth's social sign-in and
// following the provider's authorization URL. A failed sign-in comes back to /sign-in with
// Better Auth's `?error=` code, shown here in words.

import { authRequest } from './auth.js';
import { $, describeError, h, setMessage } from './ui.js';

const ERRORS = {
  access_denied: 'The sign-in was cancelled at the provider.',
  account_not_linked:
    'An account with this email already exists. Sign in with your password; the provider can be linked once the address is verified.',
  state_mismatch: 'That sign-in took too long or was started in another browser. Try again.',
  email_not_found: 'The provider did not share an email address, so no account can be opened.',
  signup_disabled: 'New accounts cannot be opened with this provider.',
};

/** The message for a failed provider sign-in's `error` code, if the page was sent one. */
export function socialErrorFromLocation() {
  const code = new URLSearchParams(window.location.search).get('error');
  if (!code) return '';
  return ERRORS[code] || 'Signing in with the provider did not work. Try again, or use your password.';
}

/** Fills #social-list with the configured providers' buttons and shows #social; after it, `next`. */
export async function showSocialButtons(next, formError) {
  let providers = [];
  try {
    const response = await fetch('/social-providers', { headers: { accept: 'application/json' } });
    if (response.ok) providers = await response.json();
  } catch {
    return; // No providers to offer when the server cannot be asked; the form still works.
  }
  if (!Array.isArray(providers) || providers.length === 0) return;
  const list = $('social-list');
  for (const provider of providers) {
    const button = h('button', { type: 'button', class: 'secondary wide' }, `Continue with ${provider.name}`);
    button.addEventListener('click', async () => {
      button.disabled = true;
      setMessage(formError, '');
      try {
        const answer = await authRequest('/sign-in/social', {
          method: 'POST',
          body: { provider: provider.id, callbackURL: next, errorCallbackURL: '/sign-in', disableRedirect: true },
        });
        window.location.assign(answer.url);
      } catch (err) {
        button.disabled = false;
        setMessage(formError, describeError(err).form || 'Signing in with the provider did not work. Try again.');
      }
    });
    list.append(h('li', {}, button));
  }
  $('social').hidden = false;
}
