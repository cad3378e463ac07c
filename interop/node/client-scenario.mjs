// Interop scenario: the official Better Auth client (better-auth/client + jwtClient +
// twoFactorClient, and @better-auth/passkey's passkeyClient) against a running server that
// speaks Better Auth 1.7 (Tessera, or a real Better Auth for comparison), with the server's
// twoFactor plugin (TESSERA_TWO_FACTOR) and passkeys (TESSERA_PASSKEY=true) on. TOTP codes are
// computed here from the totpURI the server answers, as an authenticator app would.
//
//   TESSERA_URL=http://localhost:PORT TESSERA_ORIGIN=http://127.0.0.1:3001 node client-scenario.mjs
//
// TESSERA_URL    the server's base URL (its BETTER_AUTH_URL); the client appends /api/auth. Its
//                host must be a domain (localhost), as WebAuthn's RP id is one.
// TESSERA_ORIGIN the browser origin the requests pretend to come from; must be one of the server's
//                BETTER_AUTH_TRUSTED_ORIGINS.
// TESSERA_PASSKEY_ORIGIN the page origin of the passkey steps, the server's passkey origin
//                (default: TESSERA_URL's origin, as the server defaults it).
//
// Node has no WebAuthn: the passkey steps run the client's ceremonies through navigator.credentials
// backed by the software passkey of interop/softpasskey.mjs.
//
// Node's fetch keeps no cookies and sends no Origin header, so every client gets a customFetchImpl
// that does what a browser would: a per-client cookie jar and an Origin header on every request.
// Prints one line per step, then exactly one line "N passed, 0 failed" (read by CI), and exits
// non-zero on the first failure.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createAuthClient } from "better-auth/client";
import { jwtClient, twoFactorClient } from "better-auth/client/plugins";
import { passkeyClient } from "@better-auth/passkey/client";
import { installWebAuthn, SoftPasskey } from "../softpasskey.mjs";
import { totpCode } from "../totp.mjs";

const BASE_URL = process.env.TESSERA_URL;
const ORIGIN = process.env.TESSERA_ORIGIN;
if (!BASE_URL || !ORIGIN) {
  console.error("client-scenario: set TESSERA_URL and TESSERA_ORIGIN");
  process.exit(2);
}
const PASSKEY_ORIGIN = process.env.TESSERA_PASSKEY_ORIGIN || new URL(BASE_URL).origin;
const REQUEST_TIMEOUT_MS = 15_000;
const SCENARIO_TIMEOUT_MS = 120_000;
const SESSION_COOKIE = "better-auth.session_token";

// ---------------------------------------------------------------------------------------------
// A browser-like fetch: cookie jar + Origin header.

/** Parses one Set-Cookie header into {name, value, remove}. */
function parseSetCookie(header) {
  const [pair, ...attributes] = header.split(";");
  const eq = pair.indexOf("=");
  if (eq <= 0) return null;
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  let remove = false;
  for (const attribute of attributes) {
    const [rawKey, ...rest] = attribute.split("=");
    const key = rawKey.trim().toLowerCase();
    const attrValue = rest.join("=").trim();
    if (key === "max-age" && Number(attrValue) <= 0) remove = true;
    if (key === "expires" && !Number.isNaN(Date.parse(attrValue)) && Date.parse(attrValue) <= Date.now()) {
      remove = true;
    }
  }
  return { name, value, remove };
}

class CookieJar {
  #cookies = new Map();

  store(response) {
    for (const header of response.headers.getSetCookie()) {
      const cookie = parseSetCookie(header);
      if (!cookie) continue;
      if (cookie.remove) this.#cookies.delete(cookie.name);
      else this.#cookies.set(cookie.name, cookie.value);
    }
  }

  header() {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }

  has(name) {
    return this.#cookies.has(name);
  }
}

/** A client whose requests come from page `origin` (a trusted one by default). */
function makeClient(label, origin = ORIGIN) {
  const jar = new CookieJar();
  const redirects = [];
  const customFetchImpl = async (input, init = {}) => {
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set("origin", origin);
    const cookie = jar.header();
    if (cookie) headers.set("cookie", cookie);
    const signal = init.signal
      ? AbortSignal.any([init.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)])
      : AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const response = await fetch(input, { ...init, headers, signal });
    jar.store(response);
    return response;
  };
  const client = createAuthClient({
    baseURL: BASE_URL,
    plugins: [jwtClient(), twoFactorClient({ onTwoFactorRedirect: (context) => redirects.push(context) }), passkeyClient()],
    fetchOptions: { customFetchImpl },
  });
  return { label, client, jar, redirects };
}

// ---------------------------------------------------------------------------------------------
// Steps.

let passed = 0;
async function step(description, fn) {
  try {
    await fn();
  } catch (error) {
    console.log(`not ok ${passed + 1} - ${description}`);
    console.error(error?.stack ?? error);
    console.log(`${passed} passed, 1 failed`);
    process.exit(1);
  }
  passed += 1;
  console.log(`ok ${passed} - ${description}`);
}

/** Asserts a client call succeeded and returns its data. */
function ok(result, what) {
  assert.equal(result.error, null, `${what} failed: ${JSON.stringify(result.error)}`);
  return result.data;
}

function decodeJwtPart(part) {
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

const watchdog = setTimeout(() => {
  console.error(`client-scenario: timed out after ${SCENARIO_TIMEOUT_MS} ms`);
  console.log(`${passed} passed, 1 failed`);
  process.exit(1);
}, SCENARIO_TIMEOUT_MS);
watchdog.unref();

const a = makeClient("A");
const b = makeClient("B");
const c = makeClient("C");
const suffix = randomBytes(6).toString("hex");
const email = `interop-${suffix}@example.com`;
const name = `Interop ${suffix}`;
const password = `pw-${randomBytes(9).toString("base64url")}`;
const newPassword = `new-${randomBytes(9).toString("base64url")}`;
let user;

await step("signUp.email returns the user and a session token, sets the session cookie", async () => {
  const data = ok(await a.client.signUp.email({ name, email, password }), "signUp.email");
  assert.equal(data.user.email, email);
  assert.equal(data.user.name, name);
  assert.equal(typeof data.user.id, "string");
  assert.equal(typeof data.token, "string");
  assert.ok(data.token.length > 0);
  assert.ok(a.jar.has(SESSION_COOKIE), `no ${SESSION_COOKIE} cookie after sign-up`);
  user = data.user;
});

await step("signIn.email returns a token and the same user", async () => {
  const data = ok(await a.client.signIn.email({ email, password }), "signIn.email");
  assert.equal(typeof data.token, "string");
  assert.ok(data.token.length > 0);
  assert.equal(data.user.id, user.id);
  assert.equal(data.user.email, email);
});

await step("getSession returns the session with ISO dates revived as Date", async () => {
  const data = ok(await a.client.getSession(), "getSession");
  assert.ok(data, "getSession returned null while signed in");
  assert.equal(data.session.userId, user.id);
  assert.equal(data.user.id, user.id);
  assert.ok(data.session.expiresAt instanceof Date, "session.expiresAt is not a Date");
  assert.ok(data.session.expiresAt.getTime() > Date.now(), "session.expiresAt is in the past");
  assert.ok(data.user.createdAt instanceof Date, "user.createdAt is not a Date");
});

await step("token() returns a 3-part JWT whose sub is the user id", async () => {
  const data = ok(await a.client.token(), "token");
  assert.equal(typeof data.token, "string");
  const parts = data.token.split(".");
  assert.equal(parts.length, 3, "JWT does not have 3 parts");
  const header = decodeJwtPart(parts[0]);
  const payload = decodeJwtPart(parts[1]);
  assert.equal(typeof header.alg, "string");
  assert.equal(payload.sub, user.id);
  assert.equal(payload.email, email);
});

await step("jwks() returns keys with kid, kty and alg", async () => {
  const data = ok(await a.client.jwks(), "jwks");
  assert.ok(Array.isArray(data.keys) && data.keys.length >= 1, "no keys in JWKS");
  const [key] = data.keys;
  assert.equal(typeof key.kid, "string");
  assert.equal(typeof key.kty, "string");
  assert.equal(typeof key.alg, "string");
});

await step("a second client signs in and listSessions on the first shows >= 2 sessions", async () => {
  const signedIn = ok(await b.client.signIn.email({ email, password }), "second signIn.email");
  assert.equal(signedIn.user.id, user.id);
  const sessions = ok(await a.client.listSessions(), "listSessions");
  assert.ok(Array.isArray(sessions), "listSessions did not return an array");
  assert.ok(sessions.length >= 2, `expected >= 2 sessions, got ${sessions.length}`);
  for (const session of sessions) assert.equal(session.userId, user.id);
});

await step("revokeOtherSessions succeeds and the second client is signed out", async () => {
  const data = ok(await a.client.revokeOtherSessions(), "revokeOtherSessions");
  assert.equal(data.status, true);
  const other = ok(await b.client.getSession(), "second getSession");
  assert.equal(other, null, "second client still has a session");
  const own = ok(await a.client.getSession(), "getSession");
  assert.ok(own, "revokeOtherSessions also revoked the caller's session");
});

await step("changePassword returns the user", async () => {
  const data = ok(
    await a.client.changePassword({ currentPassword: password, newPassword, revokeOtherSessions: false }),
    "changePassword",
  );
  assert.equal(data.user.id, user.id);
  assert.equal(data.user.email, email);
});

await step("signIn.email with the new password works", async () => {
  const data = ok(await c.client.signIn.email({ email, password: newPassword }), "signIn.email (new password)");
  assert.equal(data.user.id, user.id);
});

await step("signIn.email with the old password fails with 401 INVALID_EMAIL_OR_PASSWORD", async () => {
  const result = await c.client.signIn.email({ email, password });
  assert.equal(result.data, null);
  assert.ok(result.error, "sign-in with the old password succeeded");
  assert.equal(result.error.status, 401);
  assert.equal(result.error.code, "INVALID_EMAIL_OR_PASSWORD");
});

await step("updateUser changes the name and getSession shows it", async () => {
  const data = ok(await a.client.updateUser({ name: "New Name" }), "updateUser");
  assert.equal(data.status, true);
  const session = ok(await a.client.getSession(), "getSession");
  assert.ok(session, "getSession returned null after updateUser");
  assert.equal(session.user.name, "New Name");
});

// --- passkeys, from the page the passkey origin names (the server's own, by default)

const KEY = new SoftPasskey();
installWebAuthn(KEY, PASSKEY_ORIGIN);
const p = makeClient("P", PASSKEY_ORIGIN);
let passkey;

await step("passkey.addPasskey registers the key and listUserPasskeys shows its row", async () => {
  ok(await p.client.signIn.email({ email, password: newPassword }), "signIn.email (passkey page)");
  const data = ok(await p.client.passkey.addPasskey({ name: "Laptop" }), "passkey.addPasskey");
  assert.equal(data.credentialID, KEY.id);
  assert.equal(data.userId, user.id);
  assert.equal(data.name, "Laptop");
  const rows = ok(await p.client.passkey.listUserPasskeys(), "passkey.listUserPasskeys");
  assert.ok(Array.isArray(rows), "listUserPasskeys did not return an array");
  assert.equal(rows.length, 1, `expected 1 passkey, got ${rows.length}`);
  assert.equal(rows[0].id, data.id);
  assert.equal(rows[0].credentialID, KEY.id);
  assert.equal(rows[0].userId, user.id);
  assert.equal(rows[0].deviceType, "singleDevice");
  passkey = data;
});

await step("passkey.addPasskey with the same key again is refused: its options exclude it", async () => {
  const result = await p.client.passkey.addPasskey({ name: "Again" });
  assert.equal(result.data, null);
  assert.equal(result.error?.code, "ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED", JSON.stringify(result.error));
  const rows = ok(await p.client.passkey.listUserPasskeys(), "passkey.listUserPasskeys");
  assert.equal(rows.length, 1, "a second row appeared");
});

await step("passkey.updatePasskey renames the passkey and listUserPasskeys shows the name", async () => {
  const data = ok(await p.client.passkey.updatePasskey({ id: passkey.id, name: "Work laptop" }), "updatePasskey");
  assert.equal(data.passkey.id, passkey.id);
  assert.equal(data.passkey.name, "Work laptop");
  const rows = ok(await p.client.passkey.listUserPasskeys(), "passkey.listUserPasskeys");
  assert.equal(rows[0].name, "Work laptop");
});

await step("signIn.passkey on a signed-out client opens a session usable on getSession and token()", async () => {
  const q = makeClient("Q", PASSKEY_ORIGIN);
  assert.equal(ok(await q.client.getSession(), "getSession (before)"), null);
  const data = ok(await q.client.signIn.passkey(), "signIn.passkey");
  assert.equal(data.user?.id, user.id);
  assert.ok(q.jar.has(SESSION_COOKIE), `no ${SESSION_COOKIE} cookie after signIn.passkey`);
  const session = ok(await q.client.getSession(), "getSession");
  assert.ok(session, "getSession returned null after signIn.passkey");
  assert.equal(session.user.id, user.id);
  assert.equal(session.session.userId, user.id);
  const jwt = ok(await q.client.token(), "token");
  assert.equal(decodeJwtPart(jwt.token.split(".")[1]).sub, user.id);
  const rows = ok(await p.client.passkey.listUserPasskeys(), "passkey.listUserPasskeys");
  assert.equal(rows[0].counter, KEY.counter, "the stored signature counter did not follow the key's");
});

await step("passkey.deletePasskey removes the row and the deleted key can no longer sign in", async () => {
  const data = ok(await p.client.passkey.deletePasskey({ id: passkey.id }), "deletePasskey");
  assert.equal(data.status, true);
  const rows = ok(await p.client.passkey.listUserPasskeys(), "passkey.listUserPasskeys");
  assert.equal(rows.length, 0, "the passkey is still listed");
  const r = makeClient("R", PASSKEY_ORIGIN);
  const result = await r.client.signIn.passkey();
  assert.equal(result.data, null, "signIn.passkey with a deleted passkey succeeded");
  assert.equal(result.error?.status, 401, JSON.stringify(result.error));
  assert.ok(!r.jar.has(SESSION_COOKIE), "a session cookie was set");
  assert.equal(ok(await r.client.getSession(), "getSession"), null);
});

await step("signOut succeeds and getSession is then null", async () => {
  const data = ok(await a.client.signOut(), "signOut");
  assert.equal(data.success, true);
  assert.ok(!a.jar.has(SESSION_COOKIE), "session cookie not deleted by sign-out");
  const session = ok(await a.client.getSession(), "getSession");
  assert.equal(session, null);
});

// ---------------------------------------------------------------------------------------------
// Two-factor through twoFactorClient.

const d = makeClient("D");
let totpURI;
let backupCodes;

await step("twoFactor.enable answers a TOTP URI and ten backup codes; verifyTotp turns it on", async () => {
  ok(await d.client.signIn.email({ email, password: newPassword }), "signIn.email");
  const enabled = ok(await d.client.twoFactor.enable({ password: newPassword }), "twoFactor.enable");
  totpURI = enabled.totpURI;
  backupCodes = enabled.backupCodes;
  assert.match(totpURI, /^otpauth:\/\/totp\/[^:]+:.+\?secret=[A-Z2-7]+&issuer=.+&digits=6&period=30$/);
  assert.equal(backupCodes.length, 10);
  const before = ok(await d.client.getSession(), "getSession");
  assert.equal(before.user.twoFactorEnabled, false);
  ok(await d.client.twoFactor.verifyTotp({ code: await totpCode(totpURI) }), "twoFactor.verifyTotp");
  const after = ok(await d.client.getSession(), "getSession");
  assert.equal(after.user.twoFactorEnabled, true);
});

await step("signIn.email then asks for a second factor (onTwoFactorRedirect) and opens no session", async () => {
  ok(await d.client.signOut(), "signOut");
  const data = ok(await d.client.signIn.email({ email, password: newPassword }), "signIn.email");
  assert.equal(data.twoFactorRedirect, true);
  assert.deepEqual(d.redirects.at(-1)?.twoFactorMethods?.includes("totp"), true);
  assert.ok(d.jar.has("better-auth.two_factor"), "no two_factor cookie");
  assert.ok(!d.jar.has(SESSION_COOKIE), "a session cookie before the second factor");
  assert.equal(ok(await d.client.getSession(), "getSession"), null);
});

await step("twoFactor.verifyTotp with a wrong code fails with 401 INVALID_CODE", async () => {
  const result = await d.client.twoFactor.verifyTotp({ code: "000000" });
  assert.equal(result.error?.status, 401);
  assert.equal(result.error?.code, "INVALID_CODE");
});

await step("twoFactor.verifyTotp opens an ordinary session (cookie, getSession, token)", async () => {
  // The next period's code: the one that turned two-factor on was spent (Tessera refuses a code twice).
  const data = ok(await d.client.twoFactor.verifyTotp({ code: await totpCode(totpURI, 1), trustDevice: true }), "verifyTotp");
  assert.equal(data.user.id, user.id);
  assert.ok(d.jar.has(SESSION_COOKIE));
  assert.ok(d.jar.has("better-auth.trust_device"), "no trust_device cookie");
  const session = ok(await d.client.getSession(), "getSession");
  assert.equal(session.session.token, data.token);
  const jwt = ok(await d.client.token(), "token");
  assert.equal(decodeJwtPart(jwt.token.split(".")[1]).sub, user.id);
});

await step("a trusted device signs in without a second factor", async () => {
  ok(await d.client.signOut(), "signOut");
  const data = ok(await d.client.signIn.email({ email, password: newPassword }), "signIn.email");
  assert.notEqual(data.twoFactorRedirect, true);
  assert.equal(data.user.id, user.id);
});

await step("another browser passes with a backup code, which then works no more", async () => {
  const e = makeClient("E");
  const redirect = ok(await e.client.signIn.email({ email, password: newPassword }), "signIn.email");
  assert.equal(redirect.twoFactorRedirect, true);
  const data = ok(await e.client.twoFactor.verifyBackupCode({ code: backupCodes[0] }), "verifyBackupCode");
  assert.equal(data.user.id, user.id);
  assert.ok(ok(await e.client.getSession(), "getSession"));
  const f = makeClient("F");
  ok(await f.client.signIn.email({ email, password: newPassword }), "signIn.email");
  const spent = await f.client.twoFactor.verifyBackupCode({ code: backupCodes[0] });
  assert.equal(spent.error?.code, "INVALID_BACKUP_CODE");
});

await step("twoFactor.disable turns it off: signIn.email opens a session again", async () => {
  ok(await d.client.twoFactor.disable({ password: newPassword }), "twoFactor.disable");
  const g = makeClient("G");
  const data = ok(await g.client.signIn.email({ email, password: newPassword }), "signIn.email");
  assert.equal(data.user.twoFactorEnabled, false);
  assert.ok(g.jar.has(SESSION_COOKIE));
});

console.log(`${passed} passed, 0 failed`);
process.exit(0);
