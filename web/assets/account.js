// /account: change the name, resend the verification email while the address is unverified,
// change the email address (by a mailed link), change the password (optionally signing out
// other sessions), turn two-factor on (a QR code drawn here from the otpauth:// URI, the backup
// codes shown once, a first code to confirm) or off, add, rename and remove passkeys (when the
// server has them), list sessions with the current one marked and a revoke button each, sign out
// everywhere, and delete the account.

import { authRequest, HttpError, leave, signOut, SignedOut, toSignIn } from './auth.js';
import { addPasskey, passkeysAvailable } from './passkey.js';
import { startShell, showPageError } from './shell.js';
import { generate } from './lean-qr.js';
import { $, busy, clearErrors, formatDate, h, looksLikeEmail, setMessage, showError, validate } from './ui.js';

let current = null; // {session, user}

/** An auth call on behalf of the signed-in user: a 401 means the session is gone. */
async function userRequest(path, options) {
  try {
    return await authRequest(path, options);
  } catch (err) {
    if (err instanceof HttpError && err.status === 401) throw toSignIn('expired');
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Profile

const profileForm = $('profile-form');
const profileError = $('profile-form-error');
const profileStatus = $('profile-status');
const nameInput = $('name');

profileForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(profileForm, profileError);
  setMessage(profileStatus, '');
  const name = nameInput.value.trim();
  if (!validate([[nameInput, name ? '' : 'Enter your name.']])) return;
  await busy(profileForm, 'Saving…', async () => {
    try {
      await userRequest('/update-user', { method: 'POST', body: { name } });
      if (current) current.user.name = name;
      setMessage(profileStatus, 'Name saved.');
    } catch (err) {
      showError(err, { form: profileForm, formError: profileError, fields: { name: nameInput } });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Email verification: shown while the address is unverified, with a "resend" that mails a new
// link back to this page.

const verifyForm = $('verify-form');
const verifyError = $('verify-form-error');
const verifyStatus = $('verify-status');

verifyForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(verifyForm, verifyError);
  setMessage(verifyStatus, '');
  if (!current) return;
  await busy(verifyForm, 'Sending…', async () => {
    try {
      await userRequest('/send-verification-email', {
        method: 'POST',
        body: { email: current.user.email, callbackURL: '/account' },
      });
      setMessage(verifyStatus, 'Verification email sent. Check your inbox.');
    } catch (err) {
      showError(err, { form: verifyForm, formError: verifyError });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Email address: the server mails a link (to the new address, or first to the current one); the
// address changes when it is followed, which lands back here.

const emailForm = $('email-form');
const emailError = $('email-form-error');
const emailStatus = $('email-status');
const newEmail = $('new-email');

emailForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(emailForm, emailError);
  setMessage(emailStatus, '');
  const address = newEmail.value.trim();
  const ok = validate([
    [newEmail, !address ? 'Enter the new email address.' : looksLikeEmail(address) ? '' : 'Enter a valid email address, like name@example.com.'],
  ]);
  if (!ok || !current) return;
  if (address.toLowerCase() === current.user.email.toLowerCase()) {
    validate([[newEmail, 'That is already your email address.']]);
    return;
  }
  await busy(emailForm, 'Sending…', async () => {
    try {
      await userRequest('/change-email', { method: 'POST', body: { newEmail: address, callbackURL: '/account' } });
      emailForm.reset();
      // An unverified address may change at once (updateEmailWithoutVerification).
      await refreshCurrent();
      fillProfile();
      setMessage(
        emailStatus,
        current.user.email === address.toLowerCase()
          ? `Your email address is now ${address}. Check that inbox to verify it.`
          : 'Check your inbox: follow the link we sent to confirm the change.',
      );
    } catch (err) {
      if (err instanceof HttpError && err.code === 'CHANGE_EMAIL_DISABLED') {
        setMessage(emailError, 'Changing the email address is not enabled on this server.');
        return;
      }
      showError(err, { form: emailForm, formError: emailError, fields: { newEmail } });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Password

const passwordForm = $('password-form');
const passwordError = $('password-form-error');
const passwordStatus = $('password-status');
const currentPassword = $('current-password');
const newPassword = $('new-password');
const confirmPassword = $('confirm-password');
const revokeOthers = $('revoke-others');

passwordForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(passwordForm, passwordError);
  setMessage(passwordStatus, '');
  const next = newPassword.value;
  const ok = validate([
    [currentPassword, currentPassword.value ? '' : 'Enter your current password.'],
    [
      newPassword,
      !next
        ? 'Choose a new password.'
        : next.length < 8
          ? 'Password is too short: use at least 8 characters.'
          : next.length > 128
            ? 'Password is too long: use at most 128 characters.'
            : '',
    ],
    [confirmPassword, confirmPassword.value === next ? '' : 'The passwords do not match.'],
  ]);
  if (!ok) return;
  const revoke = revokeOthers.checked;
  await busy(passwordForm, 'Changing…', async () => {
    try {
      await userRequest('/change-password', {
        method: 'POST',
        body: { currentPassword: currentPassword.value, newPassword: next, revokeOtherSessions: revoke },
      });
      passwordForm.reset();
      setMessage(
        passwordStatus,
        revoke ? 'Password changed. Every other session has been signed out.' : 'Password changed.',
      );
      if (revoke) {
        // All sessions were replaced by a new one for this browser.
        await refreshCurrent();
      }
      await loadSessions();
    } catch (err) {
      showError(err, {
        form: passwordForm,
        formError: passwordError,
        fields: { currentPassword, newPassword },
        overrides: {
          PASSWORD_TOO_SHORT: 'newPassword',
          PASSWORD_TOO_LONG: 'newPassword',
          PASSWORD_COMPROMISED: 'newPassword',
        },
      });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Passkeys

const passkeySection = $('passkeys');
const passkeyList = $('passkey-list');
const passkeysError = $('passkeys-error');
const passkeysStatus = $('passkeys-status');
const passkeyForm = $('passkey-form');
const passkeyName = $('passkey-name');

const passkeyLabel = (passkey) => passkey.name || 'Unnamed passkey';

function renderPasskeys(passkeys) {
  if (!passkeys.length) {
    passkeyList.replaceChildren(h('li', { class: 'session muted' }, 'No passkeys yet.'));
    return;
  }
  passkeyList.replaceChildren(...passkeys.map((passkey, index) => passkeyItem(passkey, index)));
}

function passkeyItem(passkey, index) {
  const label = passkeyLabel(passkey);
  const labelId = `passkey-${index}-label`;
  const rename = h('button', { type: 'button', class: 'secondary small', 'aria-describedby': labelId }, 'Rename');
  const remove = h('button', { type: 'button', class: 'danger-outline small', 'aria-describedby': labelId }, 'Remove');
  const actions = h('div', { class: 'task-actions' }, rename, remove);
  const item = h(
    'li',
    { class: 'session' },
    h(
      'div',
      { class: 'session-info' },
      h('p', { class: 'session-device', id: labelId }, label),
      h('p', { class: 'session-meta' }, passkey.createdAt ? `Added ${formatDate(passkey.createdAt)}` : 'Passkey'),
    ),
    actions,
  );
  rename.addEventListener('click', () => editPasskeyName(item, actions, passkey, index, rename));
  remove.addEventListener('click', () => confirmRemoval(actions, passkey, remove));
  return item;
}

function editPasskeyName(item, actions, passkey, index, opener) {
  const inputId = `passkey-${index}-name`;
  const input = h('input', { id: inputId, type: 'text', maxlength: '100', value: passkey.name || '', 'aria-describedby': `${inputId}-error` });
  const save = h('button', { type: 'submit', class: 'primary small' }, 'Save');
  const cancel = h('button', { type: 'button', class: 'secondary small' }, 'Cancel');
  const editor = h(
    'form',
    { class: 'passkey-editor', novalidate: true },
    h(
      'div',
      { class: 'field' },
      h('label', { for: inputId }, `New label for ${passkeyLabel(passkey)}`),
      input,
      h('p', { id: `${inputId}-error`, class: 'field-error', 'aria-live': 'polite' }),
    ),
    h('div', { class: 'actions' }, save, cancel),
  );
  const close = () => {
    editor.remove();
    actions.hidden = false;
    opener.focus();
  };
  cancel.addEventListener('click', close);
  editor.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') close();
  });
  editor.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(editor, passkeysError);
    const name = input.value.trim();
    if (!validate([[input, name ? '' : 'Enter a label.']])) return;
    await busy(editor, 'Saving…', async () => {
      try {
        await userRequest('/passkey/update-passkey', { method: 'POST', body: { id: passkey.id, name } });
        setMessage(passkeysStatus, `Passkey renamed to ${name}.`);
        await loadPasskeys();
        passkeyForm.querySelector('button').focus();
      } catch (err) {
        showError(err, { form: editor, formError: passkeysError, fields: { name: input } });
      }
    });
  });
  actions.hidden = true;
  item.append(editor);
  input.focus();
}

function confirmRemoval(actions, passkey, opener) {
  const yes = h('button', { type: 'button', class: 'danger small' }, 'Yes, remove');
  const no = h('button', { type: 'button', class: 'secondary small' }, 'Cancel');
  const question = h(
    'div',
    { class: 'task-actions confirm-inline', role: 'group', 'aria-label': `Remove ${passkeyLabel(passkey)}?` },
    h('span', { class: 'confirm-question' }, `Remove ${passkeyLabel(passkey)}?`),
    yes,
    no,
  );
  const close = () => {
    question.remove();
    actions.hidden = false;
    opener.focus();
  };
  no.addEventListener('click', close);
  question.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') close();
  });
  yes.addEventListener('click', async () => {
    yes.disabled = true;
    setMessage(passkeysError, '');
    try {
      await userRequest('/passkey/delete-passkey', { method: 'POST', body: { id: passkey.id } });
      setMessage(passkeysStatus, `Passkey removed: ${passkeyLabel(passkey)}.`);
      await loadPasskeys();
      passkeyName.focus();
    } catch (err) {
      yes.disabled = false;
      showError(err, { formError: passkeysError });
    }
  });
  actions.hidden = true;
  actions.after(question);
  no.focus();
}

async function loadPasskeys() {
  try {
    const passkeys = await userRequest('/passkey/list-user-passkeys');
    renderPasskeys(Array.isArray(passkeys) ? passkeys : []);
  } catch (err) {
    if (err instanceof SignedOut) return;
    showError(err, { formError: passkeysError });
  }
}

passkeyForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(passkeyForm, passkeysError);
  setMessage(passkeysStatus, '');
  const name = passkeyName.value.trim();
  await busy(passkeyForm, 'Waiting for your passkey…', async () => {
    try {
      const added = await addPasskey(name);
      passkeyForm.reset();
      setMessage(passkeysStatus, `Passkey added: ${passkeyLabel(added)}.`);
      await loadPasskeys();
    } catch (err) {
      if (err instanceof HttpError && err.code === 'SESSION_NOT_FRESH') {
        setMessage(passkeysError, 'For your security, sign out and sign in again to add a passkey.');
        return;
      }
      showError(err, { form: passkeyForm, formError: passkeysError, fields: { name: passkeyName } });
    }
  });
});

async function startPasskeys() {
  if (!(await passkeysAvailable())) return;
  passkeySection.hidden = false;
  await loadPasskeys();
}

// ---------------------------------------------------------------------------------------------
// Sessions

const sessionList = $('session-list');
const sessionsError = $('sessions-error');
const sessionsStatus = $('sessions-status');
const sessionsLoading = $('sessions-loading');

/** "Chrome on Linux" from a User-Agent string. */
function describeAgent(ua) {
  if (!ua) return 'Unknown device';
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /OPR\//.test(ua)
      ? 'Opera'
      : /Firefox\//.test(ua)
        ? 'Firefox'
        : /Chrom(e|ium)\//.test(ua)
          ? 'Chrome'
          : /Safari\//.test(ua)
            ? 'Safari'
            : /^node|undici|curl|python|okhttp/i.test(ua)
              ? 'API client'
              : 'Browser';
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad|iPod/.test(ua)
      ? 'iOS'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS X|Macintosh/.test(ua)
          ? 'macOS'
          : /CrOS/.test(ua)
            ? 'ChromeOS'
            : /Linux/.test(ua)
              ? 'Linux'
              : '';
  return os ? `${browser} on ${os}` : browser;
}

function renderSessions(sessions) {
  const currentId = current && current.session.id;
  const sorted = [...sessions].sort((a, b) => {
    if (a.id === currentId) return -1;
    if (b.id === currentId) return 1;
    return String(b.updatedAt).localeCompare(String(a.updatedAt));
  });
  sessionList.replaceChildren(
    ...sorted.map((session, index) => {
      const isCurrent = session.id === currentId;
      const device = describeAgent(session.userAgent);
      const labelId = `session-${index}-label`;
      const revoke = h(
        'button',
        {
          type: 'button',
          class: isCurrent ? 'secondary small' : 'danger-outline small',
          'aria-label': isCurrent ? `Revoke this session (${device}, this device) and sign out` : `Revoke session: ${device}`,
          'aria-describedby': labelId,
        },
        'Revoke',
      );
      // The session token stays in this closure: never in the DOM, never stored.
      revoke.addEventListener('click', () => revokeSession(session, isCurrent, revoke));
      return h(
        'li',
        { class: isCurrent ? 'session current' : 'session', 'data-current': isCurrent ? 'true' : undefined },
        h(
          'div',
          { class: 'session-info' },
          h(
            'p',
            { class: 'session-device', id: labelId },
            device,
            isCurrent ? h('span', { class: 'badge' }, 'This device') : null,
          ),
          h(
            'p',
            { class: 'session-meta' },
            session.ipAddress ? `${session.ipAddress} · ` : '',
            `Signed in ${formatDate(session.createdAt)} · Active ${formatDate(session.updatedAt)}`,
          ),
        ),
        revoke,
      );
    }),
  );
}

async function loadSessions() {
  setMessage(sessionsError, '');
  try {
    const sessions = await userRequest('/list-sessions');
    sessionsLoading.hidden = true;
    renderSessions(Array.isArray(sessions) ? sessions : []);
  } catch (err) {
    if (err instanceof SignedOut) return;
    sessionsLoading.hidden = true;
    if (err instanceof HttpError && err.code === 'SESSION_NOT_FRESH') {
      setMessage(sessionsError, 'For your security, sign out and sign in again to see your sessions.');
      return;
    }
    showError(err, { formError: sessionsError });
  }
}

async function revokeSession(session, isCurrent, button) {
  button.disabled = true;
  setMessage(sessionsError, '');
  try {
    if (isCurrent) {
      await signOut();
      return;
    }
    await userRequest('/revoke-session', { method: 'POST', body: { token: session.token } });
    sessionsStatus.textContent = `Session revoked: ${describeAgent(session.userAgent)}.`;
    await loadSessions();
    $('refresh-sessions').focus();
  } catch (err) {
    button.disabled = false;
    if (err instanceof SignedOut) return;
    showError(err, { formError: sessionsError });
  }
}

$('refresh-sessions').addEventListener('click', () => loadSessions());

// ---------------------------------------------------------------------------------------------
// Sign out everywhere

const everywhere = $('sign-out-everywhere');
const everywhereConfirm = $('everywhere-confirm');

everywhere.addEventListener('click', () => {
  everywhereConfirm.hidden = false;
  everywhere.hidden = true;
  $('everywhere-no').focus();
});
$('everywhere-no').addEventListener('click', () => {
  everywhereConfirm.hidden = true;
  everywhere.hidden = false;
  everywhere.focus();
});
everywhereConfirm.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') $('everywhere-no').click();
});
$('everywhere-yes').addEventListener('click', async () => {
  const yes = $('everywhere-yes');
  yes.disabled = true;
  setMessage(sessionsError, '');
  try {
    await userRequest('/revoke-sessions', { method: 'POST', body: {} });
    // Expire this browser's cookie too (sign-out answers 200 without a session).
    await authRequest('/sign-out', { method: 'POST', body: {} }).catch(() => {});
    leave('/sign-in?reason=signed-out');
  } catch (err) {
    yes.disabled = false;
    if (err instanceof SignedOut) return;
    showError(err, { formError: sessionsError });
  }
});

// ---------------------------------------------------------------------------------------------
// Delete account: at once (with the password, or a recent sign-in), or, when the server confirms
// by mail, after the link it sends.

const deleteForm = $('delete-form');
const deleteError = $('delete-form-error');
const deleteStatus = $('delete-status');
const deletePassword = $('delete-password');
const deleteConfirm = $('delete-confirm');

deleteForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(deleteForm, deleteError);
  setMessage(deleteStatus, '');
  if (!validate([[deleteConfirm, deleteConfirm.checked ? '' : 'Tick the box to confirm.']])) return;
  const body = { callbackURL: '/sign-in?reason=account-deleted' };
  if (deletePassword.value) body.password = deletePassword.value;
  await busy(deleteForm, 'Deleting…', async () => {
    try {
      const answer = await userRequest('/delete-user', { method: 'POST', body });
      if (answer && answer.message === 'Verification email sent') {
        deleteForm.reset();
        setMessage(deleteStatus, 'Check your inbox: follow the link we sent to delete your account.');
        return;
      }
      leave('/sign-in?reason=account-deleted');
    } catch (err) {
      if (err instanceof HttpError && err.status === 404 && !err.code) {
        setMessage(deleteError, 'Deleting accounts is not enabled on this server.');
        return;
      }
      if (err instanceof HttpError && err.code === 'SESSION_EXPIRED') {
        validate([[deletePassword, 'Enter your password: you signed in more than a day ago.']]);
        return;
      }
      showError(err, {
        form: deleteForm,
        formError: deleteError,
        fields: { password: deletePassword },
        overrides: { INVALID_PASSWORD: 'password', PASSWORD_TOO_LONG: 'password' },
      });
    }
  });
});

// Two-factor: shown when the server has it (the user then carries `twoFactorEnabled`).

const twoFactor = $('two-factor');
const twoFactorState = $('two-factor-state');
const twoFactorError = $('two-factor-error');
const twoFactorStatus = $('two-factor-status');
const twoFactorPasswordForm = $('two-factor-password-form');
const twoFactorPassword = $('two-factor-password');
const twoFactorSubmit = $('two-factor-submit');
const twoFactorSetup = $('two-factor-setup');
const confirmForm = $('two-factor-confirm-form');
const confirmCode = $('two-factor-code');
const SVG = 'http://www.w3.org/2000/svg';

function showTwoFactor() {
  const enabled = current.user.twoFactorEnabled;
  twoFactor.hidden = typeof enabled !== 'boolean';
  $('two-factor-username').value = current.user.email;
  twoFactorState.textContent = enabled
    ? 'On: signing in asks for a code from your authenticator app after your password.'
    : 'Off: add a code from an authenticator app to your password when you sign in.';
  twoFactorSubmit.textContent = enabled ? 'Turn off two-factor' : 'Turn on two-factor';
  twoFactorSubmit.className = enabled ? 'danger' : 'primary';
}

/** The QR code of `uri` as an SVG: one path of dark modules on a light square, 4 modules of margin. */
function drawQr(uri) {
  const code = generate(uri);
  const size = code.size + 8;
  let d = '';
  for (let y = 0; y < code.size; y += 1) {
    for (let x = 0; x < code.size; x += 1) if (code.get(x, y)) d += `M${x + 4} ${y + 4}h1v1h-1z`;
  }
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('width', '200');
  svg.setAttribute('height', '200');
  svg.setAttribute('aria-hidden', 'true');
  const light = document.createElementNS(SVG, 'rect');
  light.setAttribute('width', String(size));
  light.setAttribute('height', String(size));
  light.setAttribute('fill', '#fff');
  const dark = document.createElementNS(SVG, 'path');
  dark.setAttribute('d', d);
  dark.setAttribute('fill', '#000');
  svg.append(light, dark);
  $('two-factor-qr').replaceChildren(svg);
}

twoFactorPasswordForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(twoFactorPasswordForm, twoFactorError);
  setMessage(twoFactorStatus, '');
  if (!validate([[twoFactorPassword, twoFactorPassword.value ? '' : 'Enter your password.']])) return;
  const enabled = current.user.twoFactorEnabled;
  await busy(twoFactorPasswordForm, enabled ? 'Turning off…' : 'Setting up…', async () => {
    try {
      const body = { password: twoFactorPassword.value };
      if (enabled) {
        await userRequest('/two-factor/disable', { method: 'POST', body });
        await refreshCurrent();
        twoFactorSetup.hidden = true;
        setMessage(twoFactorStatus, 'Two-factor is off.');
      } else {
        const setup = await userRequest('/two-factor/enable', { method: 'POST', body });
        drawQr(setup.totpURI);
        $('two-factor-key').textContent = new URL(setup.totpURI).searchParams.get('secret') || '';
        $('backup-codes').replaceChildren(...setup.backupCodes.map((c) => h('li', { text: c })));
        twoFactorSetup.hidden = false;
        twoFactorPasswordForm.hidden = true;
        confirmCode.focus();
      }
      twoFactorPassword.value = '';
      showTwoFactor();
    } catch (err) {
      showError(err, {
        form: twoFactorPasswordForm,
        formError: twoFactorError,
        fields: { currentPassword: twoFactorPassword, password: twoFactorPassword },
      });
    }
  });
});

confirmForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(confirmForm, twoFactorError);
  const value = confirmCode.value.trim();
  if (!validate([[confirmCode, /^[0-9]{6,8}$/.test(value) ? '' : 'Enter the 6-digit code your app shows.']])) return;
  await busy(confirmForm, 'Confirming…', async () => {
    try {
      // Not userRequest: a wrong code is a 401 too (INVALID_CODE), which is no ended session.
      await authRequest('/two-factor/verify-totp', { method: 'POST', body: { code: value } });
      // The server moved this browser to a new session (the cookie it just set).
      await refreshCurrent();
      confirmCode.value = '';
      twoFactorSetup.hidden = true;
      twoFactorPasswordForm.hidden = false;
      showTwoFactor();
      setMessage(twoFactorStatus, 'Two-factor is on. Keep your backup codes safe.');
    } catch (err) {
      confirmCode.value = '';
      showError(err, { form: confirmForm, formError: twoFactorError, fields: { code: confirmCode } });
    }
  });
});

// ---------------------------------------------------------------------------------------------

async function refreshCurrent() {
  const data = await userRequest('/get-session');
  if (!data || !data.user) throw toSignIn('expired');
  current = data;
}

function fillProfile() {
  $('profile-email').textContent = current.user.email;
  $('password-username').value = current.user.email;
  $('delete-username').value = current.user.email;
  nameInput.value = current.user.name || '';
  verifyForm.hidden = current.user.emailVerified !== false;
}

async function main() {
  current = await startShell();
  if (!current) {
    if ($('page-error').textContent) sessionsLoading.textContent = 'Sessions could not be loaded.';
    return;
  }
  fillProfile();
  // A mailed link that failed lands here with Better Auth's `?error=<CODE>`.
  const failed = new URLSearchParams(window.location.search).get('error');
  if (failed) {
    setMessage(
      $('page-error'),
      failed === 'TOKEN_EXPIRED' ? 'That link has expired. Ask for a new one.' : 'That link is no longer valid.',
    );
  }
  showTwoFactor();
  await Promise.all([startPasskeys(), loadSessions()]);
}

main().catch((err) => {
  if (!(err instanceof SignedOut)) showPageError(err);
});
