// /sign-up: name, email, password; signs the new user in and goes on to a safe `next` or /tasks.

import { authRequest, encodeNext, nextFromLocation } from './auth.js';
import { showSocialButtons } from './social.js';
import { $, busy, clearErrors, looksLikeEmail, showError, validate } from './ui.js';

const form = $('sign-up-form');
const formError = $('form-error');
const name = $('name');
const email = $('email');
const password = $('password');
const remember = $('remember');
const next = nextFromLocation('/tasks');
if (next !== '/tasks') $('sign-in-link').href = '/sign-in?next=' + encodeNext(next);
showSocialButtons(next, formError);

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(form, formError);
  const ok = validate([
    [name, !name.value.trim() ? 'Enter your name.' : ''],
    [email, !email.value.trim() ? 'Enter your email address.' : !looksLikeEmail(email.value.trim()) ? 'Enter a valid email address, like name@example.com.' : ''],
    [password, !password.value ? 'Choose a password.' : password.value.length < 8 ? 'Password is too short: use at least 8 characters.' : password.value.length > 128 ? 'Password is too long: use at most 128 characters.' : ''],
  ]);
  if (!ok) return;
  await busy(form, 'Creating account…', async () => {
    try {
      await authRequest('/sign-up/email', {
        method: 'POST',
        body: { name: name.value.trim(), email: email.value.trim(), password: password.value, rememberMe: remember.checked },
      });
      window.location.replace(next);
    } catch (err) {
      showError(err, { form, formError, fields: { name, email, password } });
    }
  });
});

name.focus();
