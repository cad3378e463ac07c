// tessera-client: fetch() for a backend API protected by Tessera's JWTs, for any frontend.
//
// The session lives in the auth server's HttpOnly cookie, which this code never sees. The JWT
// from GET <authURL>/api/auth/token is kept in this closure's memory only: never in
// localStorage, sessionStorage or a cookie, so a script injected into the page later cannot
// read it from storage. It is refreshed shortly before its `exp` (30 s or 20 % of its lifetime
// before, whichever is smaller, at least 1 s), with one token request in flight at a time
// however many calls want one; a 401 from the API is retried once with a fresh token; and when
// the auth server says the session is gone, the token is dropped and the end is reported.
//
// An ES module with no dependencies and no build step: `import { createApiClient } from
// 'tessera-client'` after `npm install ./clients/js`, or copy index.js next to your pages.

/** A request that never got an answer (server down, network gone). */
export class NetworkError extends Error {
  constructor(cause) {
    super('Server unreachable');
    this.name = 'NetworkError';
    this.cause = cause;
  }
}

/** The auth server answered the token request with an error other than "no session". */
export class TokenError extends Error {
  constructor(status) {
    super(`GET /api/auth/token answered HTTP ${status}`);
    this.name = 'TokenError';
    this.status = status;
  }
}

/** The session has ended (signed out, revoked, expired): sign in again. */
export class SessionEnded extends Error {
  constructor() {
    super('Session ended');
    this.name = 'SessionEnded';
  }
}

/**
 * Seconds before expiry to refresh a token that lives `lifetime` seconds: 30 s or 20 % of the
 * lifetime, whichever is smaller, but at least 1 s.
 */
export function refreshLead(lifetime) {
  return Math.max(1, Math.min(30, 0.2 * lifetime));
}

/** A JWT's payload, unverified (the API verifies; this only reads `exp`, `iat` and `sub`). */
export function decodePayload(jwt) {
  const part = String(jwt).split('.')[1];
  if (!part) throw new Error('not a JWT');
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

const systemClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    // In Node, a pending refresh must not keep the process alive.
    if (handle && typeof handle.unref === 'function') handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle),
};

function joinURL(base, path) {
  return String(base).replace(/\/+$/, '') + (String(path).startsWith('/') ? path : `/${path}`);
}

/**
 * A client for the API at `apiURL` whose JWTs come from the Tessera (or Better Auth) server at
 * `authURL`. See index.d.ts for every option.
 */
export function createApiClient({
  authURL,
  apiURL,
  fetch: fetchImpl = (...args) => globalThis.fetch(...args),
  credentials = 'include',
  onSessionEnd = () => {},
  clock = systemClock,
} = {}) {
  if (!authURL || !apiURL) throw new TypeError('createApiClient needs authURL and apiURL');
  const tokenURL = joinURL(authURL, '/api/auth/token');

  let token = null; // the JWT
  let claims = null; // its payload
  let refreshAt = 0; // clock.now() after which it is refreshed before use
  let timer = null;
  let inflight = null;
  let generation = 0; // bumped by forget(): a token request started before it is discarded
  let ended = false;

  function forget() {
    generation += 1;
    token = null;
    claims = null;
    refreshAt = 0;
    if (timer !== null) clock.clearTimeout(timer);
    timer = null;
  }

  function endSession() {
    forget();
    if (!ended) {
      ended = true;
      try {
        onSessionEnd();
      } catch {
        // A failing handler must not hide the end of the session from the caller.
      }
    }
    return new SessionEnded();
  }

  function keep(jwt, receivedAt) {
    const payload = decodePayload(jwt);
    // The lifetime is the token's own (exp - iat), counted from when it arrived, so a client
    // clock that is off does not matter. `iat` is whole seconds (rounded down), so the token
    // may be up to 1 s older than it says; never refresh more often than once a second.
    const lifetime = Number(payload.exp) - Number(payload.iat);
    const valid = Number.isFinite(lifetime) && lifetime > 0 ? lifetime : 0;
    const delay = Math.max(1, valid - refreshLead(valid) - 1) * 1000;
    token = jwt;
    claims = payload;
    ended = false;
    refreshAt = receivedAt + delay;
    if (timer !== null) clock.clearTimeout(timer);
    timer = clock.setTimeout(() => {
      timer = null;
      // In the background; a failure is met again by the next call that needs the token.
      fetchToken().catch(() => {});
    }, delay);
  }

  function fetchToken() {
    if (inflight) return inflight;
    const started = generation;
    inflight = (async () => {
      const receivedAt = clock.now();
      let response;
      try {
        response = await fetchImpl(tokenURL, {
          method: 'GET',
          credentials,
          cache: 'no-store',
          headers: { Accept: 'application/json' },
        });
      } catch (err) {
        throw new NetworkError(err);
      }
      if (response.status === 401) throw endSession();
      const body = response.ok ? await response.json().catch(() => null) : null;
      if (!body || typeof body.token !== 'string') throw new TokenError(response.status);
      if (started === generation) keep(body.token, receivedAt);
      return body.token;
    })().finally(() => {
      inflight = null;
    });
    return inflight;
  }

  /** A JWT that is not about to expire (`fresh`: a new one whatever the one held). */
  async function getToken({ fresh = false } = {}) {
    if (!fresh && token && clock.now() < refreshAt) return token;
    return fetchToken();
  }

  async function send(path, init, jwt) {
    const headers = new Headers(init.headers || {});
    headers.set('Authorization', `Bearer ${jwt}`);
    try {
      return await fetchImpl(joinURL(apiURL, path), { ...init, headers });
    } catch (err) {
      throw new NetworkError(err);
    }
  }

  /**
   * fetch() against the API with `Authorization: Bearer <JWT>`. On a 401 a fresh token is
   * fetched and the request sent once more (a body that is a stream cannot be sent twice: pass
   * a string, Blob, FormData or URLSearchParams). Resolves to the Response; rejects with
   * SessionEnded when the session is gone, NetworkError or TokenError.
   */
  async function apiFetch(path, init = {}) {
    const first = await send(path, init, await getToken());
    if (first.status !== 401) return first;
    // Expired or revoked: a fresh token (SessionEnded if the session is gone), then one retry.
    return send(path, init, await getToken({ fresh: true }));
  }

  return {
    fetch: apiFetch,
    getToken,
    /** The signed-in user's id (the JWT's `sub`), fetching a token if none is held. */
    async userId() {
      await getToken();
      return claims.sub;
    },
    /** Drops the token from memory (call it when signing out). */
    forget,
  };
}
