// /forgot-password: asks the auth server to mail a reset link. The answer is the same whether or
// not the address has an account (the server's, and so this page's), so it reveals none.

import { authRequest } from './auth.js';
import { $, busy, clearErrors, looksLikeEmail, setMessage, showError, validate } from './ui.js';

const form = $('forgot-form');
const formError = $('form-error');
const email = $('email');
const notice = $('notice');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(form, formError);
  setMessage(notice, '');
  const address = email.value.trim();
  const ok = validate([
    [email, !address ? 'Enter your email address.' : !looksLikeEmail(address) ? 'Enter a valid email address, like name@example.com.' : ''],
  ]);
  if (!ok) return;
  await busy(form, 'Sending…', async () => {
    try {
      // The link lands on /reset-password?token=… (or ?error=INVALID_TOKEN), a same-origin path.
      await authRequest('/request-password-reset', { method: 'POST', body: { email: address, redirectTo: '/reset-password' } });
      setMessage(notice, `If ${address} has an account, a link to reset its password is on its way.`);
    } catch (err) {
      showError(err, { form, formError, fields: { email } });
    }
  });
});

email.focus();
