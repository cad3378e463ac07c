// Authentication state for the pages: the auth server (cookie session) and the tasks API (JWT).
//
// The session lives in the HttpOnly `better-auth.session_token` cookie, which this code never
// sees. The JWT from GET /api/auth/token is kept in this module's memory only: never in
// localStorage, sessionStorage or a cookie. It is refreshed ahead of its `exp` (30 s or 20 % of
// its lifetime before, whichever is smaller, at least 1 s), sent as `Authorization: Bearer` on
// every tasks API call, and a 401 from the API is retried once with a fresh token before the
// user is sent to sign in (unless the fresh token is refused too: then the session is fine and
// the error is reported instead of bouncing between the page and sign-in).

/** A request that never got an answer (server down, network gone). */
export class NetworkError extends Error {
  constructor(cause) {
    super('Server unreachable');
    this.name = 'NetworkError';
    this.cause = cause;
  }
}

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
    forgetToken();
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
// The JWT, in memory only

let token = null; // the JWT string
let claims = null; // its decoded payload
let refreshAt = 0; // performance.now() value after which it is refreshed before use
let timer = 0;
let inflight = null;
let generation = 0;

/** Decodes a JWT's payload (no verification: the API verifies; this only reads `exp`/`sub`). */
export function decodePayload(jwt) {
  const part = String(jwt).split('.')[1];
  if (!part) throw new Error('not a JWT');
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/**
 * Seconds before expiry to refresh a token that lives `lifetime` seconds: 30 s or 20 % of the
 * lifetime, whichever is smaller, but at least 1 s.
 */
export function refreshLead(lifetime) {
  return Math.max(1, Math.min(30, 0.2 * lifetime));
}

function forgetToken() {
  generation += 1;
  token = null;
  claims = null;
  refreshAt = 0;
  clearTimeout(timer);
  timer = 0;
}

function store(jwt, receivedAt) {
  const payload = decodePayload(jwt);
  const now = Date.now() / 1000;
  // The lifetime comes from the token itself (exp - iat), and is counted from when it arrived,
  // so a client clock that is off does not matter.
  const lifetime = Number(payload.exp) - Number(payload.iat ?? now);
  const valid = Number.isFinite(lifetime) && lifetime > 0 ? lifetime : 0;
  // `iat` is whole seconds (rounded down), so the token may be up to 1 s older than it says;
  // never refresh more often than once a second.
  const delay = Math.max(1, valid - refreshLead(valid) - 1) * 1000;
  token = jwt;
  claims = payload;
  refreshAt = receivedAt + delay;
  clearTimeout(timer);
  timer = setTimeout(() => {
    timer = 0;
    // Refresh in the background; a failure is handled by the next call that needs the token.
    fetchToken().catch(() => {});
  }, delay);
}

function fetchToken() {
  if (inflight) return inflight;
  const gen = generation;
  inflight = (async () => {
    const started = performance.now();
    const response = await send('/api/auth/token');
    const body = await readBody(response);
    if (response.status === 401) {
      if (gen === generation) forgetToken();
      throw new HttpError(401, body, undefined);
    }
    if (!response.ok || !body || typeof body.token !== 'string') {
      throw new HttpError(response.status, body, retryAfterOf(response));
    }
    if (gen === generation) store(body.token, started);
    return body.token;
  })().finally(() => {
    inflight = null;
  });
  return inflight;
}

/**
 * A JWT that is not about to expire. A session that is gone sends the user to sign in and
 * throws SignedOut; NetworkError and HttpError pass through.
 */
export async function getToken({ fresh = false } = {}) {
  if (!fresh && token && performance.now() < refreshAt) return token;
  try {
    return await fetchToken();
  } catch (err) {
    if (err instanceof HttpError && err.status === 401) throw toSignIn('expired');
    throw err;
  }
}

/** The signed-in user's id: the JWT's `sub`. */
export async function currentUserId() {
  await getToken();
  return claims.sub;
}

/**
 * Calls the tasks API with `Authorization: Bearer <JWT>`; on a 401 fetches a fresh token and
 * retries once, and on a second 401 sends the user to sign in. Resolves to the JSON body (null
 * for 204); throws NetworkError, HttpError or SignedOut.
 */
export async function apiRequest(path, { method = 'GET', body } = {}) {
  let jwt = await getToken();
  let response = await send(path, { method, body, headers: { Authorization: `Bearer ${jwt}` } });
  if (response.status === 401) {
    // Expired or revoked: a fresh token (getToken sends the user to sign in when the session is
    // gone), then one retry.
    jwt = await getToken({ fresh: true });
    response = await send(path, { method, body, headers: { Authorization: `Bearer ${jwt}` } });
    if (response.status === 401) {
      // The session is alive (it just minted that token) yet the API refuses it: sending the
      // user to sign in would bounce straight back here, so report it instead.
      const data = await readBody(response);
      throw new HttpError(401, { ...(data || {}), code: 'TOKEN_REJECTED' }, undefined);
    }
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
