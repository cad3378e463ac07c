// /sign-in: email + password, "remember me" → rememberMe, then on to a safe `next` or /tasks.

import { authRequest, encodeNext, nextFromLocation } from './auth.js';
import { passkeysAvailable, signInWithPasskey } from './passkey.js';
import { showSocialButtons, socialErrorFromLocation } from './social.js';
import { $, busy, clearErrors, looksLikeEmail, setMessage, showError, validate } from './ui.js';

const form = $('sign-in-form');
const formError = $('form-error');
const email = $('email');
const password = $('password');
const remember = $('remember');
const next = nextFromLocation('/tasks');

const notices = {
  expired: 'Your session has ended. Sign in again to continue.',
  'signed-out': 'You have signed out.',
  'password-changed': 'Your password was changed. Sign in with the new one.',
  'password-reset': 'Your new password is set. Sign in with it.',
  'account-deleted': 'Your account has been deleted.',
};
const reason = new URLSearchParams(window.location.search).get('reason');
if (reason && notices[reason]) setMessage($('notice'), notices[reason]);
if (next !== '/tasks') $('sign-up-link').href = '/sign-up?next=' + encodeNext(next);
const socialError = socialErrorFromLocation();
if (socialError) setMessage(formError, socialError);
showSocialButtons(next, formError);

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(form, formError);
  const ok = validate([
    [email, !email.value.trim() ? 'Enter your email address.' : !looksLikeEmail(email.value.trim()) ? 'Enter a valid email address, like name@example.com.' : ''],
    [password, !password.value ? 'Enter your password.' : ''],
  ]);
  if (!ok) return;
  await busy(form, 'Signing in…', async () => {
    try {
      await authRequest('/sign-in/email', {
        method: 'POST',
        body: { email: email.value.trim(), password: password.value, rememberMe: remember.checked },
      });
      window.location.replace(next);
    } catch (err) {
      if (err.status === 401) password.value = '';
      showError(err, { form, formError, fields: { email, password } });
    }
  });
});

// "Sign in with a passkey": shown when this browser and the server both have passkeys.
const passkeyButton = $('passkey-button');
const passkeyError = $('passkey-error');
passkeyButton.addEventListener('click', async () => {
  setMessage(passkeyError, '');
  passkeyButton.disabled = true;
  try {
    await signInWithPasskey();
    window.location.replace(next);
  } catch (err) {
    passkeyButton.disabled = false;
    showError(err, { formError: passkeyError });
    passkeyButton.focus();
  }
});
passkeysAvailable().then((available) => {
  $('passkey-sign-in').hidden = !available;
});

email.focus();
