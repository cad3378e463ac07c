// Small DOM helpers and the mapping from server errors to messages next to the right field.

import { HttpError, NetworkError, SignedOut } from './auth.js';

/** `document.getElementById`, throwing when the page lacks the element. */
export function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el;
}

/** Creates an element: `h('button', {type: 'button', class: 'x'}, 'Text', child)`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const UNREACHABLE = 'Server unreachable. Check your connection and try again.';

function waitText(seconds) {
  if (seconds === undefined) return 'in a moment';
  if (seconds <= 1) return 'in 1 second';
  if (seconds < 90) return `in ${seconds} seconds`;
  return `in ${Math.ceil(seconds / 60)} minutes`;
}

/**
 * Messages for Better Auth's error codes. `field` names the request-body key the message belongs
 * next to; a page can move it (`PASSWORD_TOO_SHORT` is `newPassword` on the account page).
 */
const CODES = {
  INVALID_EMAIL_OR_PASSWORD: { field: 'password', message: 'Incorrect email or password.' },
  INVALID_EMAIL: { field: 'email', message: 'Enter a valid email address, like name@example.com.' },
  USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL: {
    field: 'email',
    message: 'An account with this email already exists. Sign in instead, or use another email.',
  },
  USER_ALREADY_EXISTS: {
    field: 'email',
    message: 'An account with this email already exists. Sign in instead, or use another email.',
  },
  PASSWORD_TOO_SHORT: { field: 'password', message: 'Password is too short: use at least 8 characters.' },
  PASSWORD_TOO_LONG: { field: 'password', message: 'Password is too long: use at most 128 characters.' },
  PASSWORD_COMPROMISED: {
    field: 'password',
    message: 'This password appears in lists of leaked passwords. Choose a different one.',
  },
  INVALID_PASSWORD: { field: 'currentPassword', message: 'Your current password is incorrect.' },
  EMAIL_NOT_VERIFIED: { message: 'Verify your email address first: follow the link we sent you.' },
  VERIFICATION_EMAIL_NOT_ENABLED: { message: 'This server does not send verification emails.' },
  EMAIL_ALREADY_VERIFIED: { message: 'Your email address is already verified.' },
  CREDENTIAL_ACCOUNT_NOT_FOUND: { message: 'This account has no password to change.' },
  EMAIL_CAN_NOT_BE_UPDATED: { message: 'Your email address cannot be changed here.' },
  FAILED_TO_CREATE_USER: { message: 'The account could not be created. Try again in a moment.' },
  FAILED_TO_CREATE_SESSION: { message: 'You could not be signed in. Try again in a moment.' },
  TOKEN_REJECTED: { message: 'The tasks service did not accept your sign-in. Try again in a moment, or sign out and back in.' },
  SESSION_NOT_FRESH: { message: 'For your security, sign in again to do this.' },
  INVALID_ORIGIN: { message: 'The server refused this request: open Tessera from its own address and try again.' },
  MISSING_OR_NULL_ORIGIN: { message: 'The server refused this request: open Tessera from its own address and try again.' },
  CHALLENGE_NOT_FOUND: { message: 'The passkey request expired. Try again.' },
  AUTHENTICATION_FAILED: { message: 'That passkey could not be verified. Try again, or sign in with your password.' },
  PASSKEY_NOT_FOUND: { message: 'This passkey is not registered here. Sign in with your password, then add it on your account page.' },
  FAILED_TO_VERIFY_REGISTRATION: { message: 'The passkey could not be added. Try again.' },
  YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY: { message: 'That passkey belongs to someone else.' },
  CROSS_SITE_NAVIGATION_LOGIN_BLOCKED: {
    message: 'The server refused this request: open Tessera from its own address and try again.',
  },
  INVALID_CODE: { field: 'code', message: 'That code is not right. Check it and try again.' },
  INVALID_BACKUP_CODE: { field: 'code', message: 'That backup code is not right, or it was used already.' },
  OTP_HAS_EXPIRED: { field: 'code', message: 'That code has expired. Send a new one.' },
  TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE: { message: 'Too many wrong codes. Sign in again to get a new chance.' },
  ACCOUNT_TEMPORARILY_LOCKED: { message: 'Too many wrong codes: two-factor sign-in is locked for 15 minutes.' },
  INVALID_TWO_FACTOR_COOKIE: { message: 'This sign-in has expired. Sign in again.' },
  TOTP_ALREADY_ENABLED: { message: 'Two-factor is already on.' },
  OTP_NOT_CONFIGURED: { message: 'This server does not send sign-in codes by email.' },
};

function sentence(text) {
  const t = String(text).trim();
  if (!t) return t;
  const s = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : s + '.';
}

/** Field messages from a Better Auth `VALIDATION_ERROR` (`[body.email] Invalid email address; …`). */
function validationIssues(message) {
  const issues = [];
  for (const part of String(message || '').split('; ')) {
    const m = /^\[body\.([A-Za-z0-9_]+)\]\s*(.*)$/.exec(part.trim());
    if (!m) continue;
    const [, field, text] = m;
    let msg = sentence(text);
    if (field === 'email') msg = 'Enter a valid email address, like name@example.com.';
    else if (/expected string, received undefined/.test(text)) msg = 'This field is required.';
    issues.push({ field, message: msg });
  }
  return issues;
}

/** Field messages from a FastAPI 422 (`{"detail": [{"loc": ["body", "title"], "msg": …}]}`). */
function detailIssues(detail) {
  if (!Array.isArray(detail)) return [];
  return detail.map((d) => {
    const loc = Array.isArray(d && d.loc) ? d.loc : [];
    const field = loc.length ? String(loc[loc.length - 1]) : '';
    return { field, message: sentence((d && d.msg) || 'Invalid value') };
  });
}

/**
 * Turns any error into `{form, fields: [{field, message}], retryAfter}`: what to show in the form's
 * alert and next to which fields. `overrides` maps a code to another field for this form.
 */
export function describeError(err, overrides = {}) {
  if (err instanceof NetworkError) return { form: UNREACHABLE, fields: [] };
  // The browser's WebAuthn call failed (cancelled, timed out): its message says so.
  if (err && err.name === 'PasskeyCancelled') return { form: err.message, fields: [] };
  if (!(err instanceof HttpError)) return { form: 'Something went wrong. Try again.', fields: [] };
  const { status, code, body } = err;
  if (status === 429) {
    return {
      form: `Too many attempts. Try again ${waitText(err.retryAfter)}.`,
      fields: [],
      retryAfter: err.retryAfter ?? 10,
    };
  }
  if (code === 'VALIDATION_ERROR') {
    const fields = validationIssues(err.message);
    return { form: fields.length ? '' : 'Check the highlighted fields.', fields };
  }
  if (status === 422 && body && Array.isArray(body.detail)) {
    return { form: '', fields: detailIssues(body.detail) };
  }
  const known = CODES[code];
  if (known) {
    const field = overrides[code] ?? known.field;
    return field ? { form: '', fields: [{ field, message: known.message }] } : { form: known.message, fields: [] };
  }
  if (status === 503) return { form: 'The server is temporarily unavailable. Try again in a moment.', fields: [] };
  if (status >= 500) return { form: `The server ran into a problem (HTTP ${status}). Try again in a moment.`, fields: [] };
  if (status === 404) return { form: 'That item no longer exists. The list has been refreshed.', fields: [] };
  if (status === 403) return { form: 'You are not allowed to do that.', fields: [] };
  return { form: sentence(err.message || `Request failed (HTTP ${status})`), fields: [] };
}

/** Sets (or, with '', clears) a message element: an `aria-live` region, hidden by CSS when empty. */
export function setMessage(el, message) {
  el.textContent = message || '';
}

function errorElementFor(input) {
  return document.getElementById(`${input.id}-error`);
}

/** Marks `input` invalid with `message` shown next to it (its `#<id>-error` element). */
export function setFieldError(input, message) {
  const el = errorElementFor(input);
  if (el) el.textContent = message || '';
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

/** Clears every field error and the form alert. */
export function clearErrors(form, formError) {
  for (const input of form.querySelectorAll('input, textarea, select')) {
    if (input.id) setFieldError(input, '');
  }
  if (formError) setMessage(formError, '');
}

/**
 * Shows `err` in `form`: field messages next to the inputs named in `fields` (body key → input),
 * the rest in `formError`; focuses the first invalid field (or the alert). On 429 the submit
 * button stays disabled for the wait. Returns true when something was shown.
 */
export function showError(err, { form, formError, fields = {}, overrides = {} }) {
  if (err instanceof SignedOut) return false;
  const described = describeError(err, overrides);
  let first = null;
  const leftovers = [];
  for (const { field, message } of described.fields) {
    const input = fields[field];
    if (input) {
      setFieldError(input, message);
      first = first || input;
    } else {
      leftovers.push(message);
    }
  }
  const formText = [described.form, ...leftovers].filter(Boolean).join(' ');
  if (formError) setMessage(formError, formText);
  if (described.retryAfter && form) holdSubmit(form, described.retryAfter);
  if (first) first.focus();
  return true;
}

/** Keeps a form's submit button disabled for `seconds` (after a 429). */
export function holdSubmit(form, seconds) {
  const button = form.querySelector('button[type="submit"]');
  if (!button) return;
  button.disabled = true;
  button.dataset.held = '1';
  setTimeout(() => {
    delete button.dataset.held;
    button.disabled = false;
  }, seconds * 1000);
}

/** Disables a form's submit button while `work` runs, with a busy label. */
export async function busy(form, label, work) {
  const button = form.querySelector('button[type="submit"]');
  const original = button ? button.textContent : '';
  if (button) {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    button.textContent = label;
  }
  form.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    form.removeAttribute('aria-busy');
    if (button) {
      button.removeAttribute('aria-busy');
      button.textContent = original;
      if (!button.dataset.held) button.disabled = false;
    }
  }
}

/** Client-side checks before a request: returns false (and shows messages) when a field is bad. */
export function validate(checks) {
  let first = null;
  for (const [input, message] of checks) {
    setFieldError(input, message || '');
    if (message && !first) first = input;
  }
  if (first) first.focus();
  return !first;
}

/** Whether `value` looks like an email address (the server decides; this catches typos). */
export function looksLikeEmail(value) {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);
}

/** A date as "2 Mar 2026, 14:05" in the user's locale. */
export function formatDate(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
