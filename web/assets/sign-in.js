// /sign-in: email + password, "remember me" → rememberMe, then on to a safe `next` or /tasks.
// A user with two-factor on is answered `twoFactorRedirect`: the second step asks for a code
// from their authenticator app, a backup code (`xxxxx-xxxxx`) or a code sent by email.

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
      const answer = await authRequest('/sign-in/email', {
        method: 'POST',
        body: { email: email.value.trim(), password: password.value, rememberMe: remember.checked },
      });
      if (answer && answer.twoFactorRedirect) {
        secondFactor(answer.twoFactorMethods || []);
        return;
      }
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

// ---------------------------------------------------------------------------------------------
// The second factor

const factorForm = $('second-factor-form');
const factorError = $('second-factor-error');
const factorStatus = $('second-factor-status');
const code = $('code');
const trust = $('trust-device');
const sendCode = $('send-code');
const BACKUP_CODE = /^[A-Za-z0-9]{5}-[A-Za-z0-9]{5}$/;
let emailed = false;

function secondFactor(methods) {
  password.value = '';
  form.hidden = true;
  factorForm.hidden = false;
  sendCode.hidden = !methods.includes('otp');
  $('second-factor-hint').textContent = methods.includes('totp')
    ? 'Enter the code from your authenticator app, or one of your backup codes.'
    : 'Send yourself a code by email, or enter one of your backup codes.';
  code.focus();
}

sendCode.addEventListener('click', async () => {
  clearErrors(factorForm, factorError);
  sendCode.disabled = true;
  try {
    await authRequest('/two-factor/send-otp', { method: 'POST', body: {} });
    emailed = true;
    setMessage(factorStatus, 'We sent a code to your email address. Enter it above.');
    code.focus();
  } catch (err) {
    showError(err, { form: factorForm, formError: factorError, fields: { code } });
  } finally {
    sendCode.disabled = false;
  }
});

factorForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(factorForm, factorError);
  const value = code.value.trim();
  if (!validate([[code, value ? '' : 'Enter the code.']])) return;
  const path = BACKUP_CODE.test(value)
    ? '/two-factor/verify-backup-code'
    : emailed
      ? '/two-factor/verify-otp'
      : '/two-factor/verify-totp';
  await busy(factorForm, 'Verifying…', async () => {
    try {
      await authRequest(path, { method: 'POST', body: { code: value, trustDevice: trust.checked } });
      window.location.replace(next);
    } catch (err) {
      code.value = '';
      showError(err, { form: factorForm, formError: factorError, fields: { code } });
    }
  });
});

email.focus();
