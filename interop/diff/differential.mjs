// Differential test: the same scenarios against a real Better Auth 1.7.25 and against Tessera,
// response by response.
//
//   node differential.mjs [--suite main|client|twofactor|ratelimit|passkey|account|account-mail|social]... [--verbose] [--show CASE]...
//   env: TESSERA_BIN (default target/debug/tessera), COMPAT_WORK (logs; default a temp dir)
//
// For each suite a fresh pair of servers is started with the same secret, the same shape of
// base URL (http://127.0.0.1:<port>) and the same trusted origin; the suite's requests run
// against Better Auth, then identically against Tessera. Every response is normalised
// (lib/record.mjs: ids, tokens, signatures, dates and JWTs masked, key order ignored) and the two
// are compared: status, body, the compared headers and every Set-Cookie with its attributes.
// A difference passes only if docs/compatibility.md lists it (lib/known.mjs). One "ok" line per
// case, a "# known:" note under it for each listed difference, then "N passed, M failed".

import { createHmac } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createAuthClient } from "better-auth/client";
import { jwtClient } from "better-auth/client/plugins";
import { Agent, Recording } from "./lib/agent.mjs";
import { findKnown, loadKnownDifferences, COMPAT_DOC } from "./lib/known.mjs";
import { diff, normalise } from "./lib/record.mjs";
import { SoftPasskey } from "../softpasskey.mjs";
import { totpOf } from "../totp.mjs";
import { FRONTEND_ORIGIN, randomSecret, removeWork, startServer, stopAll, WORK } from "./lib/servers.mjs";
import { fail, finish, indent, onFinish, pass } from "./lib/steps.mjs";
import { textPart } from "../mail.mjs";

const argv = process.argv.slice(2);
const verbose = argv.includes("--verbose");
const chosen = argv.flatMap((a, i) => (argv[i - 1] === "--suite" ? [a] : []));
// `--show CASE`: print both servers' normalised answers of a case (to see what is compared).
const shown = argv.flatMap((a, i) => (argv[i - 1] === "--show" ? [a] : []));
onFinish(async (ok) => {
  await stopAll();
  if (ok) removeWork();
});

const RUN = Math.random().toString(36).slice(2, 8);
const PASSWORD = "correct horse battery";
const NEW_PASSWORD = "correct horse battery staple";

/** What a suite's script gets: agents for one server, and fixed inputs shared by both runs. */
class Script {
  constructor(recording, secret) {
    this.recording = recording;
    this.secret = secret;
  }

  agent() {
    return new Agent(this.recording);
  }

  /** The same address on both servers (each has its own database). */
  email(local) {
    return `${local}-${RUN}@example.com`;
  }

  /** Signs a value like better-call's cookies: `value.base64(HMAC-SHA256(secret, value))`. */
  sign(value) {
    return `${value}.${createHmac("sha256", this.secret).update(value).digest("base64")}`;
  }

  /**
   * An email-verification token as Better Auth's `signJWT` mints it (HS256 over the secret,
   * header `{"alg":"HS256"}`), without `userId`: each server gives its users ids of its own.
   */
  verificationToken(email, iat, expiresIn) {
    const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const input = `${b64({ alg: "HS256" })}.${b64({ email, iat, exp: iat + expiresIn })}`;
    return `${input}.${createHmac("sha256", this.secret).update(input).digest("base64url")}`;
  }

  /**
   * The links the server under test mailed to `to` whose URL contains `pathPart`, oldest first,
   * once there are at least `atLeast` (at most 20 s): Better Auth's from its mail log
   * (BETTER_AUTH_MAIL_LOG), Tessera's from the `.eml` files its worker writes in development.
   * Each link is returned as its path under /api/auth, to send to the same server.
   */
  async mailedLinks(to, pathPart, atLeast = 1) {
    const server = this.recording.server;
    const deadline = Date.now() + 20_000;
    for (;;) {
      let urls = [];
      if (server.kind === "better-auth") {
        const file = join(server.dir, "mail.jsonl");
        const lines = existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
        urls = lines.map((l) => JSON.parse(l)).filter((m) => m.to === to).map((m) => m.url);
      } else {
        const dir = join(server.dir, "mail");
        const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".eml")) : [];
        const dated = files.map((f) => ({ f, at: statSync(join(dir, f)).mtimeMs })).sort((a, b) => a.at - b.at || a.f.localeCompare(b.f));
        for (const { f } of dated) {
          const raw = readFileSync(join(dir, f), "utf8");
          if (!new RegExp(`^To:.*${to.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`, "im").test(raw)) continue;
          const url = /(https?:\/\/\S+\/api\/auth\/\S+)/.exec(textPart(raw))?.[1];
          if (url) urls.push(url);
        }
      }
      const links = urls.filter((u) => u.includes(pathPart)).map((u) => u.slice(u.indexOf("/api/auth") + "/api/auth".length));
      if (links.length >= atLeast) return links;
      if (Date.now() > deadline) throw new Error(`${server.kind}: fewer than ${atLeast} ${pathPart} mails to ${to}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Records a non-HTTP value (e.g. what the official client returned). */
  value(id, v) {
    this.recording.masker.begin(id);
    this.recording.add(id, { value: this.recording.masker.value(toPlain(v)) });
  }
}

/** Dates (revived by the client) → ISO strings, so they mask like the wire form. */
function toPlain(v) {
  if (v instanceof Date) return v.toJSON();
  if (Array.isArray(v)) return v.map(toPlain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x)]));
  return v;
}

// ------------------------------------------------------------------------------------------------
// Suite "main": raw HTTP for every path and error path of docs/better-auth-protocol.md.

async function mainSuite(t) {
  const A = t.agent(); // Alice's browser
  const B = t.agent(); // Bob's browser
  const C = t.agent(); // Alice, a second browser
  const X = t.agent(); // no state; explicit cookies only
  const alice = t.email("alice");
  const bob = t.email("bob");

  // --- routing
  await X.send("routing/ok", { path: "/ok" });
  await X.send("routing/unknown-path", { path: "/nope" });
  await X.send("routing/unknown-path-post", { path: "/nope", json: {} });
  await X.send("routing/wrong-method-get-sign-in", { path: "/sign-in/email" });
  await X.send("routing/wrong-method-delete-ok", { method: "DELETE", path: "/ok" });
  await X.send("routing/wrong-method-put-sign-out", { method: "PUT", path: "/sign-out", json: {} });
  await X.send("routing/trailing-slash", { path: "/ok/" });
  await X.send("routing/double-slash", { path: "//ok" });
  await X.send("routing/head-ok", { method: "HEAD", path: "/ok" });
  await X.send("routing/options-no-preflight", { method: "OPTIONS", path: "/get-session", origin: false });
  await X.send("routing/options-preflight", {
    method: "OPTIONS",
    path: "/sign-in/email",
    headers: { "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
  });
  await X.send("routing/forget-password-removed", { path: "/forget-password", json: { email: alice } });

  // --- sign-up: validation and body handling (each with its own address, so none can collide)
  const su = (id, opts) => X.send(`sign-up/${id}`, { path: "/sign-up/email", cookies: false, keep: false, ...opts });
  const bad = (id) => t.email(`bad-${id}`);
  await su("no-body", { method: "POST" });
  await su("empty-object", { json: {} });
  await su("missing-name", { json: { email: bad(1), password: PASSWORD } });
  await su("name-number", { json: { name: 5, email: bad(2), password: PASSWORD } });
  await su("invalid-email", { json: { name: "A", email: "not-an-email", password: PASSWORD } });
  await su("email-number", { json: { name: "A", email: 5, password: PASSWORD } });
  await su("password-missing", { json: { name: "A", email: bad(3) } });
  await su("password-empty", { json: { name: "A", email: bad(4), password: "" } });
  await su("password-7", { json: { name: "A", email: bad(5), password: "1234567" } });
  await su("password-129", { json: { name: "A", email: bad(6), password: "x".repeat(129) } });
  await su("password-65-emoji", { json: { name: "A", email: bad(7), password: "\u{1F600}".repeat(65) } });
  await su("image-null", { json: { name: "A", email: bad(8), password: PASSWORD, image: null } });
  await su("image-number", { json: { name: "A", email: bad(9), password: PASSWORD, image: 1 } });
  await su("remember-me-string", { json: { name: "A", email: bad(10), password: PASSWORD, rememberMe: "yes" } });
  await su("several-issues", { json: { name: 1, email: "x", password: 2 } });
  await su("callback-untrusted", { json: { name: "A", email: bad(11), password: PASSWORD, callbackURL: "https://evil.example/x" } });
  await su("callback-protocol-relative", { json: { name: "A", email: bad(12), password: PASSWORD, callbackURL: "//evil.example" } });
  await su("callback-number", { json: { name: "A", email: bad(13), password: PASSWORD, callbackURL: 5 } });
  await su("json-array", { body: "[1,2]", contentType: "application/json" });
  await su("json-string", { body: '"x"', contentType: "application/json" });
  await su("json-null", { body: "null", contentType: "application/json" });
  await su("bad-json", { body: '{"name":', contentType: "application/json" });
  await su("text-plain", { body: '{"a":1}', contentType: "text/plain" });
  await su("no-content-type", { body: '{"a":1}' });
  await su("multipart", { body: "--b--", contentType: "multipart/form-data; boundary=b" });
  await su("too-large", { body: JSON.stringify({ name: "x".repeat(1024 * 1024 + 10), email: "nope", password: "" }), contentType: "application/json" });

  // --- sign-up: success paths
  const aliceMixedCase = alice.replace("alice", "Alice").replace("example.com", "Example.COM");
  const signedUp = await A.send("sign-up/ok", { path: "/sign-up/email", json: { name: "Alice", email: aliceMixedCase, password: PASSWORD } });
  await B.send("sign-up/ok-bob", { path: "/sign-up/email", json: { name: "Bob", email: bob, password: PASSWORD, image: "https://img.example/bob.png" } });
  await X.send("sign-up/duplicate", { path: "/sign-up/email", cookies: false, keep: false, json: { name: "A2", email: alice, password: PASSWORD } });
  await X.send("sign-up/duplicate-other-case", { path: "/sign-up/email", cookies: false, keep: false, json: { name: "A3", email: alice.toUpperCase(), password: PASSWORD } });
  await X.send("sign-up/extra-fields-ignored", {
    path: "/sign-up/email",
    cookies: false,
    keep: false,
    json: { name: "Eve", email: t.email("extra"), password: PASSWORD, emailVerified: true, role: "admin", id: "chosen-id" },
  });
  await X.send("sign-up/empty-name", { path: "/sign-up/email", cookies: false, keep: false, json: { name: "", email: t.email("noname"), password: PASSWORD } });
  await X.send("sign-up/password-8", { path: "/sign-up/email", cookies: false, keep: false, json: { name: "P8", email: t.email("p8"), password: "Tr1ck-y8" } });
  await X.send("sign-up/password-8-common", { path: "/sign-up/email", cookies: false, keep: false, json: { name: "P8c", email: t.email("p8c"), password: "12345678" } });
  await X.send("sign-up/password-128", { path: "/sign-up/email", cookies: false, keep: false, json: { name: "P128", email: t.email("p128"), password: "y".repeat(128) } });
  await X.send("sign-up/password-64-emoji", { path: "/sign-up/email", cookies: false, keep: false, json: { name: "E64", email: t.email("e64"), password: "\u{1F600}".repeat(64) } });
  await X.send("sign-up/remember-me-false", { path: "/sign-up/email", cookies: false, keep: false, json: { name: "R", email: t.email("rm"), password: PASSWORD, rememberMe: false } });
  await X.send("sign-up/callback-relative", { path: "/sign-up/email", cookies: false, keep: false, json: { name: "C", email: t.email("cb"), password: PASSWORD, callbackURL: "/welcome" } });
  await X.send("sign-up/form", {
    path: "/sign-up/email",
    cookies: false,
    keep: false,
    body: new URLSearchParams({ name: "Form", email: t.email("form"), password: PASSWORD }).toString(),
    contentType: "application/x-www-form-urlencoded",
  });
  await X.send("sign-up/json-charset", {
    path: "/sign-up/email",
    cookies: false,
    keep: false,
    body: JSON.stringify({ name: "Cs", email: t.email("charset"), password: PASSWORD }),
    contentType: "application/json; charset=utf-8",
  });

  // --- sign-in
  const si = (id, json, opts = {}) => X.send(`sign-in/${id}`, { path: "/sign-in/email", cookies: false, keep: false, json, ...opts });
  await si("no-body", undefined, { method: "POST" });
  await si("empty-object", {});
  await si("password-missing", { email: alice });
  await si("email-number", { email: 1, password: PASSWORD });
  await si("malformed-email", { email: "nope", password: PASSWORD });
  await si("wrong-password", { email: alice, password: "wrong password!" });
  await si("unknown-email", { email: t.email("nobody"), password: PASSWORD });
  await si("empty-password", { email: alice, password: "" });
  await si("remember-me-string", { email: alice, password: PASSWORD, rememberMe: "no" });
  await si("callback-untrusted", { email: alice, password: PASSWORD, callbackURL: "https://evil.example/" });
  await si("callback-protocol-relative", { email: alice, password: PASSWORD, callbackURL: "//evil.example/" });
  await si("callback-backslash", { email: alice, password: PASSWORD, callbackURL: "/\\evil.example" });
  await si("callback-javascript", { email: alice, password: PASSWORD, callbackURL: "javascript:alert(1)" });
  await si("callback-relative", { email: alice, password: PASSWORD, callbackURL: "/dashboard" });
  await si("callback-trusted", { email: alice, password: PASSWORD, callbackURL: `${FRONTEND_ORIGIN}/after` });
  await si("callback-own-origin", { email: alice, password: PASSWORD, callbackURL: "{origin}/after" });
  await si("upper-case-email", { email: alice.toUpperCase(), password: PASSWORD });
  await si("remember-me-false", { email: alice, password: PASSWORD, rememberMe: false });
  // Form posts sign in the user made by sign-up/form, so a difference here cannot leak into
  // Alice's session list.
  await si("form", undefined, {
    body: new URLSearchParams({ email: t.email("form"), password: PASSWORD }).toString(),
    contentType: "application/x-www-form-urlencoded",
  });
  await si("form-remember-me-false", undefined, {
    body: new URLSearchParams({ email: t.email("form"), password: PASSWORD, rememberMe: "false" }).toString(),
    contentType: "application/x-www-form-urlencoded",
  });
  await si("text-plain", undefined, { body: JSON.stringify({ email: alice, password: PASSWORD }), contentType: "text/plain" });
  const signedIn = await C.send("sign-in/ok", { path: "/sign-in/email", json: { email: alice, password: PASSWORD }, expect: 200 });
  const E = t.agent(); // Alice behind a proxy that sets X-Forwarded-For
  await E.send("sign-in/x-forwarded-for", { path: "/sign-in/email", json: { email: alice, password: PASSWORD }, headers: { "x-forwarded-for": "203.0.113.7" } });
  await E.send("get-session/x-forwarded-for", { path: "/get-session", headers: { "x-forwarded-for": "203.0.113.7", "user-agent": "compat-test/1.0" } });
  const signedToken = signedIn.headers.get("set-auth-token");
  const rawToken = signedIn.json?.token;

  // --- get-session
  const gs = (id, opts = {}) => X.send(`get-session/${id}`, { path: "/get-session", keep: false, cookies: false, ...opts });
  await gs("anonymous");
  await gs("garbage-cookie", { cookies: "better-auth.session_token=garbage" });
  await gs("empty-cookie", { cookies: "better-auth.session_token=" });
  await gs("bad-signature", { cookies: `better-auth.session_token=${encodeURIComponent(`${rawToken}.${"A".repeat(43)}=`)}` });
  await gs("unknown-token", { cookies: `better-auth.session_token=${encodeURIComponent(t.sign("UnknownTokenUnknownTokenUnknownT"))}` });
  await gs("other-cookie-only", { cookies: "theme=dark" });
  await A.send("get-session/ok", { path: "/get-session", expect: 200 });
  await C.send("get-session/ok-second-browser", { path: "/get-session" });
  await C.send("get-session/disable-refresh", { path: "/get-session?disableRefresh=true" });
  await C.send("get-session/disable-cookie-cache", { path: "/get-session?disableCookieCache=true" });
  await gs("bearer-signed", { headers: { authorization: `Bearer ${signedToken}` } });
  await gs("bearer-raw", { headers: { authorization: `Bearer ${rawToken}` } });
  await gs("bearer-lower-case-scheme", { headers: { authorization: `bearer ${signedToken}` } });
  await gs("bearer-url-encoded", { headers: { authorization: `Bearer ${encodeURIComponent(signedToken)}` } });
  await gs("bearer-bad-signature", { headers: { authorization: `Bearer ${rawToken}.${"B".repeat(43)}=` } });
  await gs("bearer-bad-signature-with-cookie", {
    cookies: A.cookieHeader(),
    headers: { authorization: `Bearer ${rawToken}.${"B".repeat(43)}=` },
  });
  await gs("bearer-jwt-with-cookie", { cookies: A.cookieHeader(), headers: { authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln" } });
  await gs("bearer-other-scheme", { headers: { authorization: `Basic ${signedToken}` } });
  await gs("post-anonymous", { method: "POST", json: {} });
  await gs("post-with-cookie", { method: "POST", json: {}, cookies: A.cookieHeader() });
  await gs("post-with-cookie-no-origin", { method: "POST", json: {}, cookies: A.cookieHeader(), origin: false });

  // --- jwt plugin
  await X.send("jwt/token-anonymous", { path: "/token" });
  await A.send("jwt/token", { path: "/token" });
  await X.send("jwt/token-bearer", { path: "/token", cookies: false, headers: { authorization: `Bearer ${signedToken}` } });
  await X.send("jwt/jwks", { path: "/jwks" });
  await X.send("jwt/token-post", { path: "/token", method: "POST", json: {} });

  // --- origin checks on cookie-carrying state changes (POST /revoke-session with an unknown
  // token changes nothing when it gets through)
  const probe = (id, opts) => C.send(`origin/${id}`, { path: "/revoke-session", json: { token: "not-a-session-token" }, keep: false, ...opts });
  await probe("cookie-no-origin", { origin: false, expect: 403 });
  await probe("cookie-null-origin", { origin: "null" });
  await probe("cookie-untrusted-origin", { origin: "https://evil.example" });
  await probe("cookie-trusted-origin", { expect: 200 });
  await probe("cookie-own-origin", { origin: "{origin}" });
  await probe("cookie-origin-trailing-slash", { origin: `${FRONTEND_ORIGIN}/` });
  await probe("cookie-origin-other-port", { origin: "http://127.0.0.1:3002" });
  await probe("cookie-origin-localhost-alias", { origin: "{localhost}" });
  await probe("cookie-null-origin-same-origin-fetch", { origin: "null", headers: { "sec-fetch-site": "same-origin" } });
  await probe("cookie-referer-trusted", { origin: false, headers: { referer: `${FRONTEND_ORIGIN}/page?x=1` } });
  await probe("cookie-referer-untrusted", { origin: false, headers: { referer: "https://evil.example/page" } });
  await probe("cookie-referer-null", { origin: false, headers: { referer: "null" } });
  await probe("cookie-untrusted-origin-trusted-referer", { origin: "https://evil.example", headers: { referer: `${FRONTEND_ORIGIN}/` } });
  await probe("bearer-no-origin", { origin: false, cookies: false, headers: { authorization: `Bearer ${signedToken}` } });
  await probe("no-credentials-no-origin", { origin: false, cookies: false });
  await C.send("origin/cookie-get-no-origin", { path: "/get-session", origin: false, keep: false });
  await C.send("origin/cookie-get-untrusted-origin", { path: "/get-session", origin: "https://evil.example", keep: false });

  // --- origin / login-CSRF checks on sign-in and sign-up
  const login = (id, opts) => X.send(`origin/${id}`, {
    path: "/sign-in/email",
    cookies: false,
    keep: false,
    json: { email: alice, password: PASSWORD },
    ...opts,
  });
  await login("sign-in-no-signals", { origin: false });
  await login("sign-in-trusted-origin", {});
  await login("sign-in-untrusted-origin", { origin: "https://evil.example" });
  await login("sign-in-null-origin", { origin: "null" });
  await login("sign-in-referer-untrusted", { origin: false, headers: { referer: "https://evil.example/" } });
  await login("sign-in-cross-site-navigate", {
    expect: 403,
    headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" },
  });
  await login("sign-in-cross-site-navigate-no-origin", {
    origin: false,
    headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" },
  });
  await login("sign-in-cross-site-cors", { headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" } });
  await login("sign-in-same-origin-fetch-no-origin", { origin: false, headers: { "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors" } });
  await login("sign-in-fetch-metadata-untrusted", { origin: "https://evil.example", headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" } });
  await login("sign-in-cookie-no-origin", { origin: false, cookies: "theme=dark" });
  await login("sign-in-cookie-trusted-origin", { cookies: "theme=dark" });
  await X.send("origin/sign-up-cross-site-navigate", {
    path: "/sign-up/email",
    cookies: false,
    keep: false,
    json: { name: "N", email: t.email("csrf"), password: PASSWORD },
    headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate" },
  });
  await X.send("origin/sign-up-untrusted-origin", {
    path: "/sign-up/email",
    cookies: false,
    keep: false,
    json: { name: "N", email: t.email("csrf2"), password: PASSWORD },
    origin: "https://evil.example",
  });

  // --- callbackURL checks outside sign-in/up
  await X.send("callback/sign-out-body-untrusted", { path: "/sign-out", json: { callbackURL: "https://evil.example" }, cookies: false, keep: false });
  await X.send("callback/sign-out-body-relative", { path: "/sign-out", json: { callbackURL: "/bye" }, cookies: false, keep: false });
  await X.send("callback/sign-out-query-untrusted", { path: "/sign-out?callbackURL=https%3A%2F%2Fevil.example", json: {}, cookies: false, keep: false });
  await C.send("callback/cookie-post-query-untrusted", { path: "/revoke-session?callbackURL=https%3A%2F%2Fevil.example", json: { token: "x" }, keep: false });
  await C.send("callback/cookie-post-body-untrusted", { path: "/update-user", json: { callbackURL: "https://evil.example" }, keep: false });
  await C.send("callback/cookie-post-redirect-to-untrusted", { path: "/revoke-session", json: { token: "x", redirectTo: "https://evil.example" }, keep: false });
  await C.send("callback/cookie-post-error-callback-untrusted", { path: "/revoke-session", json: { token: "x", errorCallbackURL: "https://evil.example" }, keep: false });
  await C.send("callback/cookie-post-new-user-callback-untrusted", { path: "/revoke-session", json: { token: "x", newUserCallbackURL: "https://evil.example" }, keep: false });
  await C.send("callback/cookie-post-callback-number", { path: "/revoke-session", json: { token: "x", callbackURL: 5 }, keep: false });

  // --- sessions
  await X.send("sessions/list-anonymous", { path: "/list-sessions" });
  await A.send("sessions/list", { path: "/list-sessions" });
  await X.send("sessions/revoke-anonymous", { path: "/revoke-session", json: { token: rawToken } });
  await X.send("sessions/revoke-sessions-anonymous", { path: "/revoke-sessions", json: {} });
  await X.send("sessions/revoke-other-anonymous", { path: "/revoke-other-sessions", json: {} });
  await A.send("sessions/revoke-no-body", { path: "/revoke-session", method: "POST" });
  await X.send("sessions/revoke-other-anonymous-no-body", { path: "/revoke-other-sessions", method: "POST" });
  await A.send("sessions/revoke-missing-token", { path: "/revoke-session", json: {} });
  await A.send("sessions/revoke-token-number", { path: "/revoke-session", json: { token: 5 } });
  await A.send("sessions/revoke-unknown", { path: "/revoke-session", json: { token: "UnknownTokenUnknownTokenUnknownT" } });
  const bobSession = await B.send("sessions/bob-get-session", { path: "/get-session" });
  await A.send("sessions/revoke-foreign", { path: "/revoke-session", json: { token: bobSession.json?.session?.token } });
  await B.send("sessions/bob-still-signed-in", { path: "/get-session" });
  await A.send("sessions/revoke-own-other", { path: "/revoke-session", json: { token: rawToken } });
  await C.send("sessions/revoked-browser-is-signed-out", { path: "/get-session" });

  // --- change-password
  const D = t.agent(); // Alice, a third browser, to see revokeOtherSessions
  await D.send("password/sign-in-third-browser", { path: "/sign-in/email", json: { email: alice, password: PASSWORD } });
  await X.send("password/anonymous", { path: "/change-password", json: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } });
  await X.send("password/no-body-anonymous", { path: "/change-password", method: "POST" });
  await A.send("password/no-body", { path: "/change-password", method: "POST" });
  await A.send("password/empty", { path: "/change-password", json: {} });
  await A.send("password/new-missing", { path: "/change-password", json: { currentPassword: PASSWORD } });
  await A.send("password/new-short", { path: "/change-password", json: { currentPassword: PASSWORD, newPassword: "short" } });
  await A.send("password/new-long", { path: "/change-password", json: { currentPassword: PASSWORD, newPassword: "z".repeat(129) } });
  await A.send("password/wrong-current", { path: "/change-password", json: { currentPassword: "not my password", newPassword: NEW_PASSWORD } });
  await A.send("password/revoke-flag-string", { path: "/change-password", json: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD, revokeOtherSessions: "yes" } });
  await A.send("password/ok", { path: "/change-password", json: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } });
  await X.send("password/old-password-rejected", { path: "/sign-in/email", cookies: false, keep: false, json: { email: alice, password: PASSWORD } });
  await X.send("password/new-password-works", { path: "/sign-in/email", cookies: false, keep: false, json: { email: alice, password: NEW_PASSWORD } });
  await A.send("password/ok-revoke-others", { path: "/change-password", json: { currentPassword: NEW_PASSWORD, newPassword: PASSWORD, revokeOtherSessions: true } });
  await D.send("password/other-browser-signed-out", { path: "/get-session" });
  await A.send("password/own-browser-has-new-session", { path: "/get-session" });

  // --- update-user
  await X.send("update-user/anonymous", { path: "/update-user", json: { name: "Z" } });
  await A.send("update-user/email", { path: "/update-user", json: { email: t.email("other") } });
  await A.send("update-user/email-verified", { path: "/update-user", json: { emailVerified: true } });
  await A.send("update-user/nothing", { path: "/update-user", json: {} });
  await A.send("update-user/no-body", { path: "/update-user", method: "POST" });
  await A.send("update-user/array", { path: "/update-user", body: "[1]", contentType: "application/json" });
  await A.send("update-user/name-number", { path: "/update-user", json: { name: 5 } });
  await A.send("update-user/image-number", { path: "/update-user", json: { image: 5 } });
  await A.send("update-user/unknown-field", { path: "/update-user", json: { nickname: "al" } });
  await A.send("update-user/created-at", { path: "/update-user", json: { createdAt: "2020-01-01T00:00:00.000Z" } });
  await A.send("update-user/name-and-email-verified", { path: "/update-user", json: { name: "Alice L.", emailVerified: true } });
  await A.send("update-user/name", { path: "/update-user", json: { name: "Alice Liddell" } });
  await A.send("update-user/image", { path: "/update-user", json: { image: "https://img.example/a.png" } });
  await A.send("update-user/image-null", { path: "/update-user", json: { image: null } });
  await A.send("update-user/get-session-after", { path: "/get-session" });

  // --- list-accounts, update-session, verify-password
  await X.send("list-accounts/anonymous", { path: "/list-accounts" });
  await X.send("list-accounts/post", { path: "/list-accounts", json: {} });
  await A.send("list-accounts/ok", { path: "/list-accounts" });
  await X.send("update-session/anonymous", { path: "/update-session", json: {} });
  await A.send("update-session/empty", { path: "/update-session", json: {} });
  await A.send("update-session/no-body", { path: "/update-session", method: "POST" });
  await A.send("update-session/array", { path: "/update-session", body: "[1]", contentType: "application/json" });
  await A.send("update-session/core-fields", { path: "/update-session", json: { expiresAt: "2099-01-01T00:00:00.000Z", userId: "someone", token: "x" } });
  await A.send("update-session/unknown-field", { path: "/update-session", json: { theme: "dark" } });
  await A.send("update-session/get", { path: "/update-session" });
  await X.send("verify-password/anonymous", { path: "/verify-password", json: { password: PASSWORD } });
  await A.send("verify-password/no-body", { path: "/verify-password", method: "POST" });
  await A.send("verify-password/empty", { path: "/verify-password", json: {} });
  await A.send("verify-password/number", { path: "/verify-password", json: { password: 5 } });
  await A.send("verify-password/too-long", { path: "/verify-password", json: { password: "z".repeat(129) } });
  await A.send("verify-password/wrong", { path: "/verify-password", json: { password: "not my password" } });
  await A.send("verify-password/ok", { path: "/verify-password", json: { password: PASSWORD } });
  await A.send("verify-password/get-session-after", { path: "/get-session" });

  // --- password reset from a link (tokens are verification rows; none issued here)
  const front = encodeURIComponent(`${FRONTEND_ORIGIN}/reset?from=mail&token=old`);
  await X.send("reset/link-unknown-token", { path: "/reset-password/abc?callbackURL=%2F" });
  await X.send("reset/link-unknown-token-absolute", { path: `/reset-password/abc?callbackURL=${front}` });
  await X.send("reset/link-relative-path", { path: "/reset-password/abc?callbackURL=reset%3Fa%3D1" });
  await X.send("reset/link-no-callback", { path: "/reset-password/abc" });
  await X.send("reset/link-empty-callback", { path: "/reset-password/abc?callbackURL=" });
  await X.send("reset/link-untrusted-callback", { path: "/reset-password/abc?callbackURL=https%3A%2F%2Fevil.example%2Fx" });
  await X.send("reset/link-post", { path: "/reset-password/abc?callbackURL=%2F", json: {} });
  await X.send("reset/unknown-token", { path: "/reset-password", json: { newPassword: NEW_PASSWORD, token: "x" } });
  await X.send("reset/unknown-token-in-query", { path: "/reset-password?token=x", json: { newPassword: NEW_PASSWORD } });
  await X.send("reset/no-token", { path: "/reset-password", json: { newPassword: NEW_PASSWORD } });
  await X.send("reset/empty-token", { path: "/reset-password", json: { newPassword: NEW_PASSWORD, token: "" } });
  await X.send("reset/short-password", { path: "/reset-password", json: { newPassword: "short", token: "x" } });
  await X.send("reset/short-password-no-token", { path: "/reset-password", json: { newPassword: "short" } });
  await X.send("reset/no-new-password", { path: "/reset-password", json: { token: "x" } });
  await X.send("reset/token-number", { path: "/reset-password", json: { newPassword: NEW_PASSWORD, token: 5 } });
  await X.send("reset/no-body", { path: "/reset-password", method: "POST" });
  await X.send("reset/get", { path: "/reset-password" });
  // Neither server has a mailer here (Better Auth: no sendResetPassword; Tessera: no mail worker).
  await X.send("reset/request-known", { path: "/request-password-reset", json: { email: alice } });
  await X.send("reset/request-unknown", { path: "/request-password-reset", json: { email: t.email("nobody"), redirectTo: "/reset" } });
  await X.send("reset/request-bad-email", { path: "/request-password-reset", json: { email: "not-an-email" } });
  await X.send("reset/request-untrusted-redirect", { path: "/request-password-reset", json: { email: alice, redirectTo: "https://evil.example/" } });
  await X.send("reset/request-no-body", { path: "/request-password-reset", method: "POST" });

  // --- email verification (both servers mail; tokens are stateless JWTs over the shared secret)
  const now = Math.floor(Date.now() / 1000);
  const link = (token, callback) => `/verify-email?token=${token}${callback === undefined ? "" : `&callbackURL=${encodeURIComponent(callback)}`}`;
  const expired = t.verificationToken(alice, now - 7200, 3600);
  const nobodyToken = t.verificationToken(t.email("nobody"), now, 3600);
  await X.send("verify/send-unknown", { path: "/send-verification-email", json: { email: t.email("nobody") } });
  await X.send("verify/send-known", { path: "/send-verification-email", json: { email: alice, callbackURL: "/welcome" } });
  await X.send("verify/send-bad-email", { path: "/send-verification-email", json: { email: "not-an-email" } });
  await X.send("verify/send-no-body", { path: "/send-verification-email", method: "POST" });
  await X.send("verify/send-untrusted-callback", { path: "/send-verification-email", json: { email: alice, callbackURL: "https://evil.example/" } });
  await A.send("verify/send-session-mismatch", { path: "/send-verification-email", json: { email: bob } });
  await A.send("verify/send-session-own", { path: "/send-verification-email", json: { email: alice } });
  await X.send("verify/bad-token", { path: link("abc") });
  await X.send("verify/bad-token-relative-callback", { path: link("abc", "/done?x=1#top") });
  await X.send("verify/bad-token-absolute-callback", { path: link("abc", `${FRONTEND_ORIGIN}/v`) });
  await X.send("verify/bad-token-empty-callback", { path: link("abc", "") });
  await X.send("verify/untrusted-callback", { path: link("abc", "https://evil.example/x") });
  await X.send("verify/no-token", { path: "/verify-email" });
  await X.send("verify/empty-token", { path: "/verify-email?token=" });
  await X.send("verify/expired", { path: link(expired) });
  await X.send("verify/expired-redirect", { path: link(expired, "/done") });
  await X.send("verify/unknown-user", { path: link(nobodyToken) });
  await X.send("verify/unknown-user-redirect", { path: link(nobodyToken, "/done") });
  await X.send("verify/post", { path: link("abc"), json: {} });
  const aliceToken = t.verificationToken(alice, now, 3600);
  await X.send("verify/ok", { path: link(aliceToken) });
  await X.send("verify/ok-again-redirect", { path: link(aliceToken, "/done") });
  await A.send("verify/get-session-after", { path: "/get-session" });
  await A.send("verify/send-session-verified", { path: "/send-verification-email", json: { email: alice } });

  // --- protocol endpoints beyond email+password sign-in (not configured here)
  await A.send("other/delete-user", { path: "/delete-user", json: {} });
  await A.send("other/change-email", { path: "/change-email", json: { newEmail: t.email("new") } });
  await X.send("other/error-page", { path: "/error" });

  // --- sign-out
  await X.send("sign-out/anonymous", { path: "/sign-out", json: {} });
  await X.send("sign-out/no-body", { path: "/sign-out", method: "POST" });
  await X.send("sign-out/dead-cookie", { path: "/sign-out", json: {}, cookies: `better-auth.session_token=${encodeURIComponent(t.sign("UnknownTokenUnknownTokenUnknownT"))}` });
  await A.send("sign-out/ok", { path: "/sign-out", json: {} });
  await A.send("sign-out/get-session-after", { path: "/get-session" });
  await B.send("sign-out/bearer", { path: "/sign-out", json: {}, cookies: false, origin: false, headers: { authorization: `Bearer ${B.cookie("better-auth.session_token") ? decodeURIComponent(B.cookie("better-auth.session_token")) : ""}` } });
  await B.send("sign-out/bearer-session-gone", { path: "/get-session" });
  return { signedUp };
}

// ------------------------------------------------------------------------------------------------
// Suite "client": the official better-auth client (createAuthClient + jwtClient).

/**
 * The official client's `customFetchImpl` for a browser: the frontend's Origin, a cookie jar
 * (`jar`, a Map), and `seen(response)` told of every answer.
 */
function cookieFetch(jar, seen = async () => {}) {
  return async (input, init = {}) => {
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set("origin", FRONTEND_ORIGIN);
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    if (cookie) headers.set("cookie", cookie);
    const response = await fetch(input, { ...init, headers, signal: AbortSignal.timeout(20_000) });
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attrs] = header.split(";");
      const [name, ...value] = pair.split("=");
      if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))) jar.delete(name.trim());
      else jar.set(name.trim(), value.join("="));
    }
    await seen(response);
    return response;
  };
}

async function clientSuite(t) {
  let step = 0;
  let current = "";
  const makeClient = () => {
    const customFetchImpl = cookieFetch(new Map(), async (response) => {
      const text = await response.clone().text();
      step += 1;
      t.recording.masker.begin(`client/${current}/http-${step}`);
      t.recording.add(`client/${current}/http-${step}`, normalise(t.recording.masker, { status: response.status, headers: response.headers, text }));
    });
    return createAuthClient({ baseURL: t.recording.server.url, plugins: [jwtClient()], fetchOptions: { customFetchImpl } });
  };
  const a = makeClient();
  const b = makeClient();
  const email = t.email("client");
  const call = async (name, fn) => {
    current = name;
    step = 0;
    const result = await fn();
    t.value(`client/${name}/result`, { data: result.data ?? null, error: result.error ?? null });
    return result;
  };
  await call("sign-up", () => a.signUp.email({ name: "Client", email, password: PASSWORD }));
  await call("sign-up-duplicate", () => b.signUp.email({ name: "Client", email, password: PASSWORD }));
  await call("sign-up-short-password", () => b.signUp.email({ name: "Client", email: t.email("client-short"), password: "short" }));
  await call("sign-in-wrong-password", () => b.signIn.email({ email, password: "wrong password!" }));
  await call("sign-in", () => b.signIn.email({ email, password: PASSWORD }));
  await call("sign-in-callback", () => b.signIn.email({ email, password: PASSWORD, callbackURL: "/dashboard" }));
  await call("get-session", () => a.getSession());
  await call("token", () => a.token());
  await call("jwks", () => a.jwks());
  await call("list-sessions", () => a.listSessions());
  await call("revoke-other-sessions", () => a.revokeOtherSessions());
  await call("other-client-signed-out", () => b.getSession());
  await call("change-password-wrong", () => a.changePassword({ currentPassword: "nope nope nope", newPassword: NEW_PASSWORD }));
  await call("change-password", () => a.changePassword({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD, revokeOtherSessions: true }));
  await call("update-user", () => a.updateUser({ name: "Client Renamed", image: "https://img.example/c.png" }));
  await call("update-user-email", () => a.updateUser({ email: t.email("client-new") }));
  await call("get-session-after-update", () => a.getSession());
  await call("revoke-sessions", () => a.revokeSessions());
  await call("get-session-after-revoke", () => a.getSession());
  await call("sign-in-again", () => a.signIn.email({ email, password: NEW_PASSWORD, rememberMe: false }));
  await call("sign-out", () => a.signOut());
  await call("get-session-signed-out", () => a.getSession());
  await call("token-signed-out", () => a.token());
}

// ------------------------------------------------------------------------------------------------
// Suite "twofactor": the twoFactor plugin on both servers (TESSERA_TWO_FACTOR), every endpoint
// and its error paths, the sign-in challenge, trusted devices. TOTP codes are computed here
// from the URI each server answered, with Better Auth's own createOTP.

/** The code `steps` periods from now. */
async function codeAt(otp, steps) {
  return otp.hotp(Math.floor(Date.now() / 30_000) + steps);
}

async function twoFactorSuite(t) {
  const A = t.agent(); // the user's browser
  const X = t.agent(); // no state
  const email = t.email("tf");
  const tf = (agent, id, path, json, opts = {}) => agent.send(`two-factor/${id}`, { path: `/two-factor/${path}`, json, ...opts });
  await A.send("two-factor/sign-up", { path: "/sign-up/email", json: { name: "Two Factor", email, password: PASSWORD }, expect: 200 });
  await tf(X, "enable-anonymous", "enable", { password: PASSWORD });
  await tf(A, "enable-no-password", "enable", {});
  await tf(A, "enable-wrong-password", "enable", { password: "wrong password!" });
  await tf(A, "get-totp-uri-before-enable", "get-totp-uri", { password: PASSWORD });
  await tf(A, "generate-backup-codes-before-enable", "generate-backup-codes", { password: PASSWORD });
  await tf(A, "verify-backup-code-before-enable", "verify-backup-code", { code: "aaaaa-bbbbb" });
  const enabled = await tf(A, "enable", "enable", { password: PASSWORD, issuer: "Diff Issuer" }, { expect: 200 });
  const otp = totpOf(enabled.json.totpURI);
  await A.send("two-factor/get-session-before-verify", { path: "/get-session" });
  await tf(A, "verify-totp-no-code", "verify-totp", {});
  await tf(A, "verify-totp-wrong", "verify-totp", { code: "000000" });
  await tf(A, "verify-totp-confirms", "verify-totp", { code: await codeAt(otp, 0) }, { expect: 200 });
  await A.send("two-factor/get-session-enabled", { path: "/get-session" });
  await tf(A, "enable-again", "enable", { password: PASSWORD });
  await tf(A, "get-totp-uri-no-password", "get-totp-uri", {});
  await tf(A, "get-totp-uri", "get-totp-uri", { password: PASSWORD });
  const fresh = await tf(A, "generate-backup-codes", "generate-backup-codes", { password: PASSWORD }, { expect: 200 });
  const backupCodes = fresh.json.backupCodes;
  await A.send("two-factor/sign-out", { path: "/sign-out", json: {} });

  // The sign-in challenge, then a TOTP code of the next period (the one just used is spent on
  // Tessera), trusting the device.
  const S = t.agent();
  await tf(X, "verify-totp-no-cookie", "verify-totp", { code: "000000" });
  await tf(X, "verify-totp-forged-cookie", "verify-totp", { code: "000000" }, { cookies: `better-auth.two_factor=${encodeURIComponent(t.sign("2fa-forgedforgedforgedfo"))}` });
  await S.send("two-factor/sign-in-challenge", { path: "/sign-in/email", json: { email, password: PASSWORD }, expect: 200 });
  await S.send("two-factor/get-session-during-challenge", { path: "/get-session" });
  await tf(S, "challenge-verify-totp-wrong", "verify-totp", { code: "000000" });
  await tf(S, "challenge-verify-backup-code-wrong", "verify-backup-code", { code: "aaaaa-bbbbb" });
  await tf(S, "challenge-send-otp", "send-otp", {});
  await tf(S, "challenge-verify-otp-wrong", "verify-otp", { code: "000000" });
  const next = await codeAt(otp, 1);
  await tf(S, "challenge-verify-totp-trust-device", "verify-totp", { code: next, trustDevice: true }, { expect: 200 });
  await S.send("two-factor/get-session-after-challenge", { path: "/get-session" });
  await S.send("two-factor/token-after-challenge", { path: "/token" });
  await S.send("two-factor/sign-out-trusted", { path: "/sign-out", json: {} });
  await S.send("two-factor/sign-in-trusted-device", { path: "/sign-in/email", json: { email, password: PASSWORD } });
  await S.send("two-factor/sign-out-trusted-again", { path: "/sign-out", json: {} });

  // The same code again within its window: Better Auth accepts it, Tessera refuses it.
  const R = t.agent();
  await R.send("two-factor/sign-in-challenge-replay", { path: "/sign-in/email", json: { email, password: PASSWORD }, expect: 200 });
  await tf(R, "challenge-verify-totp-replayed-code", "verify-totp", { code: next });

  // A backup code, with rememberMe false; the challenge opens one session only.
  const B = t.agent();
  await B.send("two-factor/sign-in-challenge-dont-remember", { path: "/sign-in/email", json: { email, password: PASSWORD, rememberMe: false }, expect: 200 });
  const challenge = B.cookieHeader();
  await tf(B, "challenge-verify-backup-code", "verify-backup-code", { code: backupCodes[0] }, { expect: 200 });
  await tf(X, "challenge-cookie-spent", "verify-backup-code", { code: backupCodes[1] }, { cookies: challenge, keep: false });
  await B.send("two-factor/get-session-after-backup-code", { path: "/get-session" });
  await tf(B, "verify-backup-code-signed-in-spent", "verify-backup-code", { code: backupCodes[0] });
  await tf(B, "send-otp-signed-in", "send-otp", {});
  await tf(B, "disable-wrong-password", "disable", { password: "wrong password!" });
  await tf(B, "disable", "disable", { password: PASSWORD }, { expect: 200 });
  await B.send("two-factor/get-session-disabled", { path: "/get-session" });
  await B.send("two-factor/sign-out-disabled", { path: "/sign-out", json: {} });
  await B.send("two-factor/sign-in-after-disable", { path: "/sign-in/email", json: { email, password: PASSWORD } });
}

// ------------------------------------------------------------------------------------------------
// Suite "ratelimit": Better Auth with NODE_ENV=production (its rate limiter's only switch) and
// Tessera in production mode.

async function rateLimitSuite(t) {
  const X = t.agent();
  const email = t.email("rate");
  await X.send("ratelimit/sign-up", { path: "/sign-up/email", cookies: false, keep: false, json: { name: "R", email, password: PASSWORD } });
  // Sign-in: 3 requests per 10 s per client; the 4th is refused.
  for (let i = 1; i <= 4; i += 1) {
    await X.send(`ratelimit/sign-in-${i}`, {
      path: "/sign-in/email",
      cookies: false,
      keep: false,
      json: { email, password: "wrong password!" },
      expect: i <= 3 ? 401 : 429,
    });
  }
  await X.send("ratelimit/sign-in-other-path-unaffected", { path: "/get-session", cookies: false });
  // Everything else: 100 requests per 10 s per path.
  for (let i = 2; i <= 100; i += 1) await X.send(null, { path: "/get-session", cookies: false });
  await X.send("ratelimit/get-session-101", { path: "/get-session", cookies: false, expect: 429 });
}


// ------------------------------------------------------------------------------------------------
// Suite "passkey": the @better-auth/passkey plugin's endpoints and error paths, with one software
// passkey (interop/softpasskey.mjs) registering and signing in on both servers.

const KEY = new SoftPasskey();

async function passkeySuite(t) {
  const A = t.agent(); // Alice, who registers the passkey
  const B = t.agent(); // Bob, who does not own it
  const X = t.agent(); // a signed-out browser
  const origin = t.recording.server.origin;
  KEY.counter = 0;
  await A.send("passkey/sign-up-alice", { path: "/sign-up/email", json: { name: "Alice", email: t.email("pk-alice"), password: PASSWORD } });
  await B.send("passkey/sign-up-bob", { path: "/sign-up/email", json: { name: "Bob", email: t.email("pk-bob"), password: PASSWORD } });

  // --- options
  await X.send("passkey/register-options-signed-out", { path: "/passkey/generate-register-options" });
  await A.send("passkey/register-options", { path: "/passkey/generate-register-options" });
  await A.send("passkey/register-options-platform-named", { path: "/passkey/generate-register-options?authenticatorAttachment=platform&name=Laptop" });
  await A.send("passkey/register-options-bad-attachment", { path: "/passkey/generate-register-options?authenticatorAttachment=usb" });
  await X.send("passkey/authenticate-options-signed-out", { path: "/passkey/generate-authenticate-options" });

  // --- verification error paths
  const va = (id, opts) => X.send(`passkey/verify-authentication-${id}`, { path: "/passkey/verify-authentication", ...opts });
  await va("no-body", { method: "POST", keep: false });
  await va("no-response", { json: {}, keep: false });
  await va("response-string", { json: { response: "x" }, keep: false });
  await va("no-challenge-cookie", { json: { response: { id: KEY.id } }, cookies: false, keep: false });
  await X.send("passkey/authenticate-options-for-unknown", { path: "/passkey/generate-authenticate-options" });
  await va("unknown-credential", { json: { response: { id: "bm9wZQ", rawId: "bm9wZQ", type: "public-key", response: {} } } });
  await B.send("passkey/verify-registration-no-challenge", { path: "/passkey/verify-registration", json: { response: {} } });
  await X.send("passkey/verify-registration-signed-out", { path: "/passkey/verify-registration", json: { response: {} } });

  // --- the signed-in user's list, rename and delete, before any passkey
  await A.send("passkey/list-empty", { path: "/passkey/list-user-passkeys" });
  await X.send("passkey/list-signed-out", { path: "/passkey/list-user-passkeys" });
  await A.send("passkey/update-unknown", { path: "/passkey/update-passkey", json: { id: "nope", name: "x" } });
  await A.send("passkey/update-blank-name", { path: "/passkey/update-passkey", json: { id: "nope", name: "  " } });
  await A.send("passkey/update-no-fields", { path: "/passkey/update-passkey", json: {} });
  await A.send("passkey/delete-unknown", { path: "/passkey/delete-passkey", json: { id: "nope" } });
  await A.send("passkey/delete-empty-id", { path: "/passkey/delete-passkey", json: { id: "" } });

  await A.send("passkey/register-options-for-malformed", { path: "/passkey/generate-register-options" });
  await A.send("passkey/verify-registration-malformed", { path: "/passkey/verify-registration", json: { response: { id: 1 } } });

  // --- registration with the software passkey
  const options = await A.send("passkey/register-options-for-key", { path: "/passkey/generate-register-options" });
  const registration = KEY.register(options.json, origin);
  const added = await A.send("passkey/verify-registration", { path: "/passkey/verify-registration", json: { response: registration, name: " Laptop " } });
  await A.send("passkey/verify-registration-challenge-spent", { path: "/passkey/verify-registration", json: { response: registration } });
  await A.send("passkey/list-one", { path: "/passkey/list-user-passkeys" });
  await A.send("passkey/register-options-excluding", { path: "/passkey/generate-register-options" });
  await A.send("passkey/authenticate-options-signed-in", { path: "/passkey/generate-authenticate-options" });
  const id = added.json?.id ?? "missing";
  await B.send("passkey/update-not-owner", { path: "/passkey/update-passkey", json: { id, name: "Mine" } });
  await B.send("passkey/delete-not-owner", { path: "/passkey/delete-passkey", json: { id } });
  await A.send("passkey/update", { path: "/passkey/update-passkey", json: { id, name: " Work laptop " } });

  // --- signing in with it
  const signIn = async (caseId, counter) => {
    const auth = await X.send(`passkey/${caseId}-options`, { path: "/passkey/generate-authenticate-options" });
    return X.send(`passkey/${caseId}`, { path: "/passkey/verify-authentication", json: { response: KEY.assert(auth.json, origin, counter) } });
  };
  await signIn("verify-authentication", 1);
  await X.send("passkey/get-session-after-passkey", { path: "/get-session" });
  await signIn("verify-authentication-counter-not-increased", 1);
  await signIn("verify-authentication-counter-increased", 2);
  await A.send("passkey/list-counter", { path: "/passkey/list-user-passkeys" });
  await A.send("passkey/delete", { path: "/passkey/delete-passkey", json: { id } });
  await signIn("verify-authentication-deleted", 3);
}

// ------------------------------------------------------------------------------------------------
// Suite "account": change-email and delete-user enabled on both servers, the direct flows
// (the new address verifies; an unverified user's address changes at once; deletion at once).

async function accountSuite(t) {
  const A = t.agent(); // Alice, unverified
  const C = t.agent(); // Carol, verified
  const E = t.agent(); // Erin, deleted with her password
  const F = t.agent(); // Frank, deleted by a fresh session
  const X = t.agent();
  const alice = t.email("alice");
  const carol = t.email("carol");
  const erin = t.email("erin");
  await A.send("account/sign-up-alice", { path: "/sign-up/email", json: { name: "Alice", email: alice, password: PASSWORD } });
  await C.send("account/sign-up-carol", { path: "/sign-up/email", json: { name: "Carol", email: carol, password: PASSWORD } });
  await E.send("account/sign-up-erin", { path: "/sign-up/email", json: { name: "Erin", email: erin, password: PASSWORD } });
  await F.send("account/sign-up-frank", { path: "/sign-up/email", json: { name: "Frank", email: t.email("frank"), password: PASSWORD } });
  const now = Math.floor(Date.now() / 1000);
  await X.send("account/verify-carol", { path: `/verify-email?token=${t.verificationToken(carol, now, 3600)}` });

  // --- change-email: refusals
  await X.send("change-email/anonymous", { path: "/change-email", json: { newEmail: t.email("x") } });
  await C.send("change-email/no-body", { path: "/change-email", method: "POST" });
  await C.send("change-email/missing", { path: "/change-email", json: {} });
  await C.send("change-email/bad-email", { path: "/change-email", json: { newEmail: "not-an-email" } });
  await C.send("change-email/number", { path: "/change-email", json: { newEmail: 5 } });
  await C.send("change-email/same", { path: "/change-email", json: { newEmail: carol.toUpperCase() } });
  await C.send("change-email/taken", { path: "/change-email", json: { newEmail: erin } });
  await C.send("change-email/callback-untrusted", { path: "/change-email", json: { newEmail: t.email("cx"), callbackURL: "https://evil.example/" } });
  await C.send("change-email/get", { path: "/change-email" });

  // --- a verified user: the new address is mailed the link that moves the account
  const carolNew = t.email("carol-new");
  await C.send("change-email/verified", { path: "/change-email", json: { newEmail: carolNew, callbackURL: "/moved" } });
  const [carolLink] = await t.mailedLinks(carolNew, "/verify-email");
  const carolPlain = carolLink.split("&callbackURL")[0];
  await A.send("change-email/link-as-another-user", { path: carolPlain });
  await A.send("change-email/link-as-another-user-redirect", { path: `${carolPlain}&callbackURL=%2Fx` });
  await C.send("change-email/link", { path: carolPlain });
  await C.send("change-email/get-session-after", { path: "/get-session" });
  await X.send("change-email/link-again", { path: carolLink });
  await X.send("change-email/old-address-sign-in", { path: "/sign-in/email", cookies: false, keep: false, json: { email: carol, password: PASSWORD } });
  await X.send("change-email/new-address-sign-in", { path: "/sign-in/email", cookies: false, keep: false, json: { email: carolNew, password: PASSWORD } });

  // --- an unverified user with updateEmailWithoutVerification: changed at once
  const aliceNew = t.email("alice-new");
  await A.send("change-email/unverified", { path: "/change-email", json: { newEmail: aliceNew } });
  await A.send("change-email/unverified-get-session", { path: "/get-session" });
  const [aliceLink] = await t.mailedLinks(aliceNew, "/verify-email");
  await X.send("change-email/unverified-verify-link", { path: aliceLink });
  await A.send("change-email/unverified-get-session-verified", { path: "/get-session" });

  // --- delete-user
  await X.send("delete-user/anonymous", { path: "/delete-user", json: {} });
  await E.send("delete-user/no-body", { path: "/delete-user", method: "POST" });
  await E.send("delete-user/password-number", { path: "/delete-user", json: { password: 5 } });
  await E.send("delete-user/password-too-long", { path: "/delete-user", json: { password: "z".repeat(129) } });
  await E.send("delete-user/password-wrong", { path: "/delete-user", json: { password: "not my password" } });
  await E.send("delete-user/token-unknown", { path: "/delete-user", json: { token: "abc" } });
  await E.send("delete-user/callback-untrusted", { path: "/delete-user", json: { callbackURL: "https://evil.example/" } });
  await E.send("delete-user/callback-link-no-token", { path: "/delete-user/callback" });
  await X.send("delete-user/callback-link-anonymous", { path: "/delete-user/callback?token=abc" });
  await E.send("delete-user/callback-link-unknown", { path: "/delete-user/callback?token=abc&callbackURL=%2Fbye" });
  await E.send("delete-user/callback-link-untrusted", { path: "/delete-user/callback?token=abc&callbackURL=https%3A%2F%2Fevil.example" });
  await E.send("delete-user/password", { path: "/delete-user", json: { password: PASSWORD } });
  await E.send("delete-user/get-session-after", { path: "/get-session" });
  await X.send("delete-user/sign-in-after", { path: "/sign-in/email", cookies: false, keep: false, json: { email: erin, password: PASSWORD } });
  await F.send("delete-user/fresh-session", { path: "/delete-user", json: {} });
  await F.send("delete-user/fresh-session-get-session-after", { path: "/get-session" });
}

// ------------------------------------------------------------------------------------------------
// Suite "account-mail": the confirmation to the current address, and deletion by mailed link.

async function accountMailSuite(t) {
  const D = t.agent(); // Dave, verified
  const G = t.agent(); // Gina, deletes by link
  const H = t.agent(); // Hal, another user
  const X = t.agent();
  const dave = t.email("dave");
  const gina = t.email("gina");
  await D.send("account-mail/sign-up-dave", { path: "/sign-up/email", json: { name: "Dave", email: dave, password: PASSWORD } });
  await G.send("account-mail/sign-up-gina", { path: "/sign-up/email", json: { name: "Gina", email: gina, password: PASSWORD } });
  await H.send("account-mail/sign-up-hal", { path: "/sign-up/email", json: { name: "Hal", email: t.email("hal"), password: PASSWORD } });
  const now = Math.floor(Date.now() / 1000);
  await X.send("account-mail/verify-dave", { path: `/verify-email?token=${t.verificationToken(dave, now, 3600)}` });

  const daveNew = t.email("dave-new");
  await D.send("change-email/confirmation", { path: "/change-email", json: { newEmail: daveNew, callbackURL: "/settings" } });
  const [approve] = await t.mailedLinks(dave, "/verify-email");
  await X.send("change-email/confirmation-link", { path: approve });
  await D.send("change-email/confirmation-get-session-unchanged", { path: "/get-session" });
  const [verifyNew] = await t.mailedLinks(daveNew, "/verify-email");
  await X.send("change-email/confirmation-verification-link", { path: verifyNew.split("&callbackURL")[0] });
  await D.send("change-email/confirmation-get-session-after", { path: "/get-session" });

  await G.send("delete-user/mail", { path: "/delete-user", json: { callbackURL: "/goodbye" } });
  await G.send("delete-user/mail-get-session-still", { path: "/get-session" });
  const [deleteLink] = await t.mailedLinks(gina, "/delete-user/callback");
  await X.send("delete-user/mail-link-anonymous", { path: deleteLink });
  await H.send("delete-user/mail-link-other-user", { path: deleteLink });
  await G.send("delete-user/mail-link-spent", { path: deleteLink });
  await G.send("delete-user/mail-again", { path: "/delete-user", json: {} });
  const links = await t.mailedLinks(gina, "/delete-user/callback", 2);
  await G.send("delete-user/mail-link", { path: links[1].replace("callbackURL=%2F", "callbackURL=%2Fbye") });
  await G.send("delete-user/mail-get-session-after", { path: "/get-session" });
  await H.send("delete-user/mail-other-user-still-signed-in", { path: "/get-session" });
}

// ------------------------------------------------------------------------------------------------

const ACCOUNT_ENV = { TESSERA_CHANGE_EMAIL: "true", TESSERA_DELETE_USER: "true", BETTER_AUTH_MAIL_LOG: "mail.jsonl" };
// Suite "social": both servers signing in through the same real OpenID provider
// (interop/oidc-provider.mjs at TEST_OIDC_ISSUER; scripts/test.sh starts one), Better Auth
// through its genericOAuth plugin, Tessera through TESSERA_OAUTH_PROVIDERS, configured by the
// same environment. The provider signs in the account the request's `loginHint` names.

const OIDC_PROVIDER = "test-oidc";

/** The environment configuring the test provider, for either server. */
function oauthEnv() {
  const issuer = process.env.TEST_OIDC_ISSUER;
  if (!issuer) throw new Error("TEST_OIDC_ISSUER is not set: scripts/test.sh compat starts the OpenID provider");
  return {
    TESSERA_OAUTH_PROVIDERS: OIDC_PROVIDER,
    TESSERA_OAUTH_TEST_OIDC_ISSUER: issuer,
    TESSERA_OAUTH_TEST_OIDC_CLIENT_ID: "tessera-test",
    TESSERA_OAUTH_TEST_OIDC_CLIENT_SECRET: "tessera-test-secret",
  };
}

/** Follows the provider's redirects with its own cookies; the query it calls back with. */
async function atProvider(url) {
  const jar = new Map();
  let next = url;
  for (let hop = 0; hop < 10; hop += 1) {
    const response = await fetch(next, {
      redirect: "manual",
      headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") },
    });
    for (const header of response.headers.getSetCookie()) {
      const [pair] = header.split(";");
      const eq = pair.indexOf("=");
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const location = response.headers.get("location");
    if (!location) throw new Error(`the provider stopped with ${response.status}`);
    const target = new URL(location, next);
    if (target.pathname === `/api/auth/callback/${OIDC_PROVIDER}`) return target.search.slice(1);
    next = target.href;
  }
  throw new Error("the provider never redirected back");
}

async function socialSuite(t) {
  const A = t.agent(); // a browser signing in
  const B = t.agent(); // another browser
  const X = t.agent(); // no cookies
  const hint = `social-${RUN}`;
  const start = (agent, id, json) => agent.send(`social/${id}`, { path: "/sign-in/social", json, expect: 200 });
  const signIn = { provider: OIDC_PROVIDER, callbackURL: "/tasks", errorCallbackURL: "/sign-in", newUserCallbackURL: "/welcome" };

  // --- sign-in/social: refusals
  await X.send("social/sign-in-unknown-provider", { path: "/sign-in/social", json: { provider: "nope" }, cookies: false });
  await X.send("social/sign-in-no-provider", { path: "/sign-in/social", json: {}, cookies: false });
  await X.send("social/sign-in-provider-number", { path: "/sign-in/social", json: { provider: 5 }, cookies: false });
  await X.send("social/sign-in-untrusted-callback", { path: "/sign-in/social", json: { ...signIn, callbackURL: "https://evil.example/x" }, cookies: false });
  await X.send("social/sign-in-untrusted-error-callback", { path: "/sign-in/social", json: { ...signIn, errorCallbackURL: "https://evil.example/x" }, cookies: false });
  await X.send("social/sign-in-untrusted-new-user-callback", { path: "/sign-in/social", json: { ...signIn, newUserCallbackURL: "//evil.example" }, cookies: false });
  await X.send("social/sign-in-reserved-param", { path: "/sign-in/social", json: { ...signIn, additionalParams: { state: "x" } }, cookies: false });
  await X.send("social/sign-in-scopes-not-array", { path: "/sign-in/social", json: { ...signIn, scopes: "openid" }, cookies: false });
  await X.send("social/sign-in-bad-id-token", { path: "/sign-in/social", json: { provider: OIDC_PROVIDER, idToken: { token: "not-a-token" } }, cookies: false });
  await X.send("social/sign-in-id-token-missing-token", { path: "/sign-in/social", json: { provider: OIDC_PROVIDER, idToken: {} }, cookies: false });

  // --- the redirect flow: a new user, a replay, the same user again
  const started = await start(A, "sign-in-start", { ...signIn, loginHint: hint });
  const query = await atProvider(started.json.url);
  await A.send("social/callback-new-user", { path: `/callback/${OIDC_PROVIDER}?${query}` });
  await A.send("social/get-session-after-sign-in", { path: "/get-session" });
  await A.send("social/list-accounts", { path: "/list-accounts" });
  const accounts = (await A.send(null, { path: "/list-accounts" })).json;
  await A.send("social/unlink-last-account", { path: "/unlink-account", json: { accountId: accounts[0].id } });
  await A.send("social/unlink-no-account-id", { path: "/unlink-account", json: {} });
  await X.send("social/unlink-signed-out", { path: "/unlink-account", json: { accountId: accounts[0].id }, cookies: false });
  await A.send("social/callback-replayed", { path: `/callback/${OIDC_PROVIDER}?${query}` });
  const again = await start(A, "sign-in-again", { ...signIn, loginHint: hint });
  await A.send("social/callback-known-user", { path: `/callback/${OIDC_PROVIDER}?${await atProvider(again.json.url)}` });

  // --- callback refusals
  const foreign = await start(A, "sign-in-for-another-browser", { ...signIn, loginHint: hint });
  await B.send("social/callback-other-browser", { path: `/callback/${OIDC_PROVIDER}?${await atProvider(foreign.json.url)}` });
  await X.send("social/callback-no-state", { path: `/callback/${OIDC_PROVIDER}?code=abc`, cookies: false });
  await X.send("social/callback-unknown-state", { path: `/callback/${OIDC_PROVIDER}?code=abc&state=unknown-state`, cookies: false });
  const denied = await start(A, "sign-in-denied", { ...signIn, loginHint: "deny" });
  await A.send("social/callback-denied", { path: `/callback/${OIDC_PROVIDER}?${await atProvider(denied.json.url)}` });
  const noCode = await start(A, "sign-in-no-code", signIn);
  const state = new URL(noCode.json.url).searchParams.get("state");
  await A.send("social/callback-no-code", { path: `/callback/${OIDC_PROVIDER}?state=${state}` });
  const badCode = await start(A, "sign-in-bad-code", signIn);
  const badState = new URL(badCode.json.url).searchParams.get("state");
  await A.send("social/callback-bad-code", { path: `/callback/${OIDC_PROVIDER}?state=${badState}&code=not-a-code` });
  await X.send("social/callback-form-post", {
    path: `/callback/${OIDC_PROVIDER}`,
    body: "state=s1&code=c%201&iss=x",
    contentType: "application/x-www-form-urlencoded",
    cookies: false,
    origin: false,
  });

  // --- options
  await start(X, "sign-in-disable-redirect", { ...signIn, disableRedirect: true, scopes: ["offline_access"], loginHint: hint });
  await start(X, "sign-in-defaults", { provider: OIDC_PROVIDER });

  // --- linking: an unverified local user with the provider's email is not taken over
  const local = `link-${RUN}`;
  await X.send("social/link-sign-up", { path: "/sign-up/email", json: { name: "Local", email: `${local}@oidc.test`, password: PASSWORD }, cookies: false, keep: false });
  const linking = await start(B, "sign-in-link", { ...signIn, loginHint: local });
  await B.send("social/callback-not-linked", { path: `/callback/${OIDC_PROVIDER}?${await atProvider(linking.json.url)}` });

  // --- the official client's signIn.social (disableRedirect: Node has no window to send away),
  // then the provider and the callback with the state cookie the client received.
  const jar = new Map();
  const customFetchImpl = cookieFetch(jar);
  const client = createAuthClient({ baseURL: t.recording.server.url, fetchOptions: { customFetchImpl } });
  const unknown = await client.signIn.social({ provider: "nope", callbackURL: "/tasks" });
  t.value("social/client-unknown-provider", { data: unknown.data ?? null, error: unknown.error ?? null });
  const social = await client.signIn.social({ provider: OIDC_PROVIDER, callbackURL: "/tasks", disableRedirect: true, loginHint: hint });
  t.value("social/client-sign-in-social", { data: social.data ?? null, error: social.error ?? null });
  const clientQuery = await atProvider(social.data.url);
  const C = t.agent();
  await C.send("social/client-callback", { path: `/callback/${OIDC_PROVIDER}?${clientQuery}`, cookies: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") });
}

// ------------------------------------------------------------------------------------------------

const SUITES = {
  main: { run: mainSuite },
  social: {
    run: socialSuite,
    get betterAuthEnv() {
      return oauthEnv();
    },
    get tesseraEnv() {
      return oauthEnv();
    },
  },
  client: { run: clientSuite },
  passkey: { run: passkeySuite, betterAuthEnv: { TESSERA_PASSKEY: "true" }, tesseraEnv: { TESSERA_PASSKEY: "true" } },
  account: {
    run: accountSuite,
    betterAuthEnv: { ...ACCOUNT_ENV, TESSERA_UPDATE_EMAIL_WITHOUT_VERIFICATION: "true" },
    tesseraEnv: { ...ACCOUNT_ENV, TESSERA_UPDATE_EMAIL_WITHOUT_VERIFICATION: "true" },
  },
  "account-mail": {
    run: accountMailSuite,
    betterAuthEnv: { ...ACCOUNT_ENV, TESSERA_CHANGE_EMAIL_CONFIRMATION: "true", TESSERA_DELETE_USER_VERIFICATION: "true" },
    tesseraEnv: { ...ACCOUNT_ENV, TESSERA_CHANGE_EMAIL_CONFIRMATION: "true", TESSERA_DELETE_USER_VERIFICATION: "true" },
  },
  twofactor: {
    run: twoFactorSuite,
    betterAuthEnv: { TESSERA_TWO_FACTOR: "true", TESSERA_TWO_FACTOR_ISSUER: "Tessera Diff", TESSERA_APP_NAME: "Diff App" },
    tesseraEnv: { TESSERA_TWO_FACTOR: "true", TESSERA_TWO_FACTOR_ISSUER: "Tessera Diff", TESSERA_APP_NAME: "Diff App" },
  },
  ratelimit: {
    run: rateLimitSuite,
    betterAuthEnv: { NODE_ENV: "production" },
    // No shutdown drain: nothing balances these servers, and each stop would wait it out.
    tesseraEnv: { TESSERA_ENV: "production", TESSERA_SHUTDOWN_DRAIN: "0" },
  },
};

const known = loadKnownDifferences();
console.log(`# known differences: ${known.length} listed in ${COMPAT_DOC}`);
console.log(`# server logs: ${WORK}`);

for (const [name, suite] of Object.entries(SUITES)) {
  if (chosen.length && !chosen.includes(name)) continue;
  const secret = randomSecret();
  const recordings = {};
  for (const kind of ["better-auth", "tessera"]) {
    // Better Auth on SQLite through its Kysely adapter, as deployed; its memory adapter drops
    // unset fields (`image` would be missing instead of null) and is not what anyone runs.
    const env =
      kind === "tessera"
        ? suite.tesseraEnv
        : { DATABASE_URL: `sqlite://${join(WORK, `${name}-better-auth.db`)}`, ...suite.betterAuthEnv };
    let server;
    try {
      server = await startServer(kind, { secret, env, label: `${name}-${kind}` });
      server.localhost = server.origin.replace("127.0.0.1", "localhost");
      const recording = new Recording(server);
      const script = new Script(recording, secret);
      patchPlaceholders(script);
      await suite.run(script);
      recordings[kind] = recording;
    } catch (error) {
      fail(`suite ${name}: running against ${kind}`, `${error?.stack ?? error}\n--- server log ---\n${server?.tail() ?? ""}`);
      await finish();
    } finally {
      await server?.stop();
    }
  }
  compare(name, recordings["better-auth"], recordings.tessera);
}

// A listed difference that no longer shows up is reported (not failed: it may only appear in
// a suite that was not run), so the list can be pruned when Tessera changes.
const stale = chosen.length === 0 ? known.filter((e) => e.used === 0) : [];
for (const entry of stale) {
  console.log(`# warning: listed difference "${entry.id}" (case ${entry.case}) was not observed; remove it from docs/compatibility.md if it is fixed`);
}
for (const entry of chosen.length === 0 ? known.filter((e) => e.used > 0) : []) {
  for (const spec of entry.specs.filter((s) => s.used === 0)) {
    console.log(`# warning: listed difference "${entry.id}" never differed at ${spec.path}; remove that path from docs/compatibility.md`);
  }
}
await finish();

/** `{localhost}` in origins: the server's own port under the name localhost. */
function patchPlaceholders(script) {
  const agentFactory = script.agent.bind(script);
  script.agent = () => {
    const agent = agentFactory();
    const send = agent.send.bind(agent);
    agent.send = (id, opts = {}) => {
      if (opts.origin === "{localhost}") opts = { ...opts, origin: script.recording.server.localhost };
      if (opts.origin === "{origin}") opts = { ...opts, origin: script.recording.server.origin };
      return send(id, opts);
    };
    return agent;
  };
}

function compare(suite, ba, tessera) {
  const ids = [...new Set([...ba.cases.keys(), ...tessera.cases.keys()])];
  for (const id of ids) {
    const a = ba.cases.get(id);
    const b = tessera.cases.get(id);
    if (!a || !b) {
      fail(`${id}: recorded on ${a ? "Better Auth" : "Tessera"} only`);
      continue;
    }
    if (shown.includes(id)) console.log(indent(`# ${id}\n${JSON.stringify({ betterAuth: a, tessera: b }, null, 2)}`));
    const differences = diff(a, b);
    const unexplained = [];
    const notes = [];
    for (const d of differences) {
      const entry = findKnown(known, id, d);
      if (entry) {
        entry.used += 1;
        notes.push(`# known: ${entry.id}: ${d.path}: Better Auth ${JSON.stringify(d.betterAuth)}, Tessera ${JSON.stringify(d.tessera)}`);
      } else {
        unexplained.push(d);
      }
    }
    if (unexplained.length === 0) {
      pass(`${id}${differences.length ? ` (${differences.length} listed difference${differences.length > 1 ? "s" : ""})` : ""}`);
      if (verbose) for (const n of notes) console.log(indent(n));
    } else {
      const lines = unexplained.map(
        (d) => `${d.path}:\n    Better Auth: ${JSON.stringify(d.betterAuth)}\n    Tessera:     ${JSON.stringify(d.tessera)}`,
      );
      fail(`${id}: ${unexplained.length} difference(s) not listed in docs/compatibility.md`, [...lines, ...notes].join("\n"));
    }
  }
  console.log(`# suite ${suite}: ${ids.length} cases compared`);
}
