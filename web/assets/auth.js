// Authentication state for the pages: the auth server (cookie session) and the tasks API (JWT).
//
// The session lives in the HttpOnly `better-auth.session_token` cookie, which this code never
// sees. The JWT is handled by tessera-client (clients/js/index.js, served by the binary as
// /assets/tessera-client.js), the same module any other frontend uses, so the two cannot drift:
// kept in memory only, refreshed ahead of its `exp`, one token request in flight at a time, a
// 401 from the API retried once with a fresh token. When the auth server says the session is
// gone the user is sent to sign in; when the fresh token is refused too, the session is fine and
// the error is reported instead of bouncing between the page and sign-in.

import { createApiClient, NetworkError, SessionEnded, TokenError } from './tessera-client.js';

export { NetworkError };

/** An HTTP error answer, from the auth server (`{message, code}`) or the tasks API (`{detail}`). */
export class HttpError extends Error {
  constructor(status, body, retryAfter) {
    const message = (body && (body.message || (typeof body.detail === 'string' ? body.detail : ''))) || `HTTP ${status}`;
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = (body && body.code) || '';
    this.body = body;
    /** Seconds to wait, from `X-Retry-After` / `Retry-After` (429, 503). */
    this.retryAfter = retryAfter;
  }
}

/** The session is gone; the page is already on its way to sign-in. */
export class SignedOut extends Error {
  constructor() {
    super('Signed out');
    this.name = 'SignedOut';
  }
}

// ---------------------------------------------------------------------------------------------
// `next` handling: the same rule as the server's `is_safe_relative_path`.

/** Whether `path` is a same-site relative path that cannot be turned into another host. */
export function isSafeRelativePath(path) {
  if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//')) return false;
  const lower = path.toLowerCase();
  if (path.includes('\\') || lower.includes('%2f') || lower.includes('%5c')) return false;
  // Rust's char::is_control: C0 controls, DEL and C1 controls.
  return !/[\u0000-\u001f\u007f-\u009f]/.test(path);
}

/** The page's `next` query value when safe, else `fallback`. */
export function nextFromLocation(fallback = '/tasks') {
  const next = new URLSearchParams(window.location.search).get('next');
  return next !== null && isSafeRelativePath(next) ? next : fallback;
}

/** Percent-encodes a query value, keeping `/` readable (`next=/tasks`), like the server. */
export function encodeNext(value) {
  return encodeURIComponent(value).replace(/%2F/gi, '/');
}

/** The sign-in URL that brings the user back to where they are. */
export function signInUrl(reason) {
  const here = window.location.pathname + window.location.search;
  let url = '/sign-in?next=' + encodeNext(isSafeRelativePath(here) ? here : '/tasks');
  if (reason) url += '&reason=' + encodeURIComponent(reason);
  return url;
}

let leaving = false;
const leaveHandlers = [];

/** Registers `fn` to run before the page is left because the user is signed out. */
export function onSignedOut(fn) {
  leaveHandlers.push(fn);
}

/** Forgets the token, clears private data from the page and goes to `url`. */
export function leave(url) {
  if (!leaving) {
    leaving = true;
    api.forget();
    for (const fn of leaveHandlers) {
      try {
        fn();
      } catch {
        // Clearing is best effort; leaving is not.
      }
    }
  }
  window.location.assign(url);
  return new SignedOut();
}

/** Sends the user to sign in (session expired or revoked), then back here. */
export function toSignIn(reason = 'expired') {
  return leave(signInUrl(reason));
}

// ---------------------------------------------------------------------------------------------
// Plain requests

function retryAfterOf(response) {
  for (const name of ['X-Retry-After', 'Retry-After']) {
    const value = response.headers.get(name);
    if (!value) continue;
    const seconds = Number(value);
    if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
    const date = Date.parse(value);
    if (!Number.isNaN(date)) return Math.max(0, Math.ceil((date - Date.now()) / 1000));
  }
  return undefined;
}

async function readBody(response) {
  const text = await response.text().catch(() => '');
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 200) };
  }
}

async function send(url, { method = 'GET', body, headers = {} } = {}) {
  const init = {
    method,
    credentials: 'same-origin',
    cache: 'no-store',
    headers: { Accept: 'application/json', ...headers },
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(url, init);
  } catch (err) {
    throw new NetworkError(err);
  }
}

/**
 * Calls the auth server (`/api/auth/...`) with the session cookie; resolves to the JSON body,
 * throws NetworkError or HttpError.
 */
export async function authRequest(path, options = {}) {
  const response = await send('/api/auth' + path, options);
  const body = await readBody(response);
  if (!response.ok) throw new HttpError(response.status, body, retryAfterOf(response));
  return body;
}

/** The current `{session, user}`, or null when signed out. */
export async function getSession() {
  return authRequest('/get-session');
}

// ---------------------------------------------------------------------------------------------
// The JWT, through tessera-client

const api = createApiClient({
  authURL: window.location.origin,
  apiURL: window.location.origin,
  // The auth server is this page's origin: the cookie never needs to go anywhere else.
  credentials: 'same-origin',
  // Also when a background refresh finds the session gone (signed out elsewhere, revoked).
  onSessionEnd: () => toSignIn('expired'),
});

/** Runs a tessera-client call, turning its errors into this app's. */
async function viaClient(call) {
  try {
    return await call();
  } catch (err) {
    // onSessionEnd has already sent the user to sign in.
    if (err instanceof SessionEnded) throw new SignedOut();
    if (err instanceof TokenError) throw new HttpError(err.status, null, undefined);
    throw err;
  }
}

/** The signed-in user's id: the JWT's `sub`. */
export async function currentUserId() {
  return viaClient(() => api.userId());
}

/**
 * Calls the tasks API with `Authorization: Bearer <JWT>` (a 401 is retried once with a fresh
 * token by tessera-client). Resolves to the JSON body (null for 204); throws NetworkError,
 * HttpError or SignedOut.
 */
export async function apiRequest(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, cache: 'no-store', credentials: 'same-origin', headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await viaClient(() => api.fetch(path, init));
  if (response.status === 401) {
    // Still 401 after the retry with a fresh token: the session is alive (it just minted that
    // token) yet the API refuses it. Sending the user to sign in would bounce straight back
    // here, so report it instead.
    const data = await readBody(response);
    throw new HttpError(401, { ...(data || {}), code: 'TOKEN_REJECTED' }, undefined);
  }
  const data = response.status === 204 ? null : await readBody(response);
  if (!response.ok) throw new HttpError(response.status, data, retryAfterOf(response));
  return data;
}

/** Signs out (deletes the session, expires the cookie), clears the page and goes to sign-in. */
export async function signOut() {
  await authRequest('/sign-out', { method: 'POST', body: {} });
  leave('/sign-in?reason=signed-out');
}

// A page restored from the back/forward cache must not show what it showed before: reload it so
// the server decides again (it answers no-store pages and redirects when signed out).
window.addEventListener('pageshow', (event) => {
  if (event.persisted) window.location.reload();
});
