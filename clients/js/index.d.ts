// Types of tessera-client (index.js).

/** A request that never got an answer (server down, network gone). */
export class NetworkError extends Error {
  readonly name: 'NetworkError';
  readonly cause: unknown;
}

/** The auth server answered the token request with an error other than "no session". */
export class TokenError extends Error {
  readonly name: 'TokenError';
  readonly status: number;
}

/** The session has ended (signed out, revoked, expired): sign in again. */
export class SessionEnded extends Error {
  readonly name: 'SessionEnded';
}

/** Time and timers, injectable for tests. `now()` is in milliseconds (monotonic). */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ApiClientOptions {
  /** The auth server's base URL, e.g. `http://127.0.0.1:3000` (its `/api/auth/token` is used). */
  authURL: string;
  /** The API's base URL; `client.fetch(path)` requests `apiURL + path`. */
  apiURL: string;
  /** The fetch to use (default: the global one). Node tests pass one that carries a cookie. */
  fetch?: typeof fetch;
  /** Credentials mode of the token request (default `include`, for an auth server on another origin). */
  credentials?: RequestCredentials;
  /** Called once when the auth server says the session is gone (then `SessionEnded` is thrown). */
  onSessionEnd?: () => void;
  /** Default: `performance.now()` and the global timers. */
  clock?: Clock;
}

export interface ApiClient {
  /**
   * fetch() against the API with `Authorization: Bearer <JWT>`; a 401 is retried once with a
   * fresh token. Rejects with `SessionEnded`, `NetworkError` or `TokenError`.
   */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** A JWT that is not about to expire (`fresh`: a new one whatever the one held). */
  getToken(options?: { fresh?: boolean }): Promise<string>;
  /** The signed-in user's id (the JWT's `sub`). */
  userId(): Promise<string>;
  /** Drops the token from memory (call it when signing out). */
  forget(): void;
}

export function createApiClient(options: ApiClientOptions): ApiClient;

/** Seconds before expiry to refresh a token living `lifetime` seconds: min(30, 20 %), at least 1. */
export function refreshLead(lifetime: number): number;

/** A JWT's payload, unverified. */
export function decodePayload(jwt: string): Record<string, unknown>;
