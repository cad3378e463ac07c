// /reset-password?token=…: the page a reset link lands on (through the auth server's
// /api/auth/reset-password/<token>, which appends the token, or `error=INVALID_TOKEN` when the
// link is spent or expired). Sets the new password, then on to sign in with it.

import { authRequest } from './auth.js';
import { $, busy, clearErrors, setMessage, showError, validate } from './ui.js';

const form = $('reset-form');
const formError = $('form-error');
const password = $('new-password');
const confirm = $('confirm-password');
const params = new URLSearchParams(window.location.search);
const token = params.get('token');
const EXPIRED = 'This link has expired or was already used. Send yourself a new one.';

if (!token || params.get('error')) {
  setMessage(formError, EXPIRED);
  for (const el of form.elements) el.disabled = true;
  $('main').focus();
} else {
  // The token stays out of the address bar, the history and any Referer from here on.
  window.history.replaceState(null, '', '/reset-password');
  password.focus();
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(form, formError);
  const ok = validate([
    [password, !password.value ? 'Enter a new password.' : password.value.length < 8 ? 'Password is too short: use at least 8 characters.' : ''],
    [confirm, confirm.value !== password.value ? 'The two passwords differ.' : ''],
  ]);
  if (!ok) return;
  await busy(form, 'Saving…', async () => {
    try {
      await authRequest('/reset-password', { method: 'POST', body: { newPassword: password.value, token } });
      window.location.replace('/sign-in?reason=password-reset');
    } catch (err) {
      if (err.code === 'INVALID_TOKEN') {
        setMessage(formError, EXPIRED);
        return;
      }
      showError(err, { form, formError, fields: { newPassword: password }, overrides: { PASSWORD_TOO_SHORT: 'newPassword', PASSWORD_TOO_LONG: 'newPassword' } });
    }
  });
});
