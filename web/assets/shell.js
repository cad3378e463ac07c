// The frame of the signed-in pages: the header with the user's email and sign-out, the session
// check on load, and wiping the page's private content whenever the user is signed out.

import { getSession, onSignedOut, signOut, toSignIn } from './auth.js';
import { $, describeError, setMessage } from './ui.js';

/** Removes everything private from the page (before leaving it signed out). */
export function clearPrivateContent() {
  for (const el of document.querySelectorAll('[data-private]')) {
    if ('value' in el) el.value = '';
    el.textContent = '';
    el.removeAttribute('title');
  }
  const main = document.getElementById('main');
  if (main) main.replaceChildren();
  document.title = 'Signed out · Tessera';
}

/** Shows `err` in the page-level alert. */
export function showPageError(err) {
  const { form, fields } = describeError(err);
  setMessage($('page-error'), [form, ...fields.map((f) => f.message)].filter(Boolean).join(' '));
}

/**
 * Wires the header and loads the session: resolves to `{session, user}`, or null when the page
 * is leaving for sign-in (or the server could not be asked; the error is then shown).
 */
export async function startShell() {
  onSignedOut(clearPrivateContent);
  const button = $('sign-out');
  button.addEventListener('click', async () => {
    button.disabled = true;
    setMessage($('page-error'), '');
    try {
      await signOut();
    } catch (err) {
      button.disabled = false;
      showPageError(err);
    }
  });
  let data;
  try {
    data = await getSession();
  } catch (err) {
    showPageError(err);
    return null;
  }
  if (!data || !data.user) {
    toSignIn('expired');
    return null;
  }
  const emailEl = $('user-email');
  emailEl.textContent = data.user.email;
  emailEl.title = data.user.email;
  return data;
}
