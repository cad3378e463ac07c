// The guard against a real Better Auth 1.7.25: a JWT minted by Better Auth (jwt plugin) verifies
// in a long-running `tessera api` through Better Auth's own /api/auth/jwks, and after Better Auth
// starts signing with a key the guard has never seen, the guard picks it up by itself (one
// automatic refetch on the unknown `kid`), without a restart.
//
//   node guard-refetch.mjs
//   env: TESSERA_BIN, COMPAT_WORK (as adoption.mjs)
//
// Topology: a tiny reverse proxy in this process is Better Auth's public address (its
// BETTER_AUTH_URL, hence the JWTs' iss and aud), so `tessera api --jwks-url <proxy>/api/auth/jwks`
// with no --issuer/--audience flags expects exactly what Better Auth puts in its tokens. The
// proxy records every GET /api/auth/jwks that passes through it (who asked, which kids it
// returned); only the guards use it — this script talks to Better Auth directly — so its record
// is the exact list of the guards' JWKS fetches, cross-checked with the guard's own debug log.
//
// The new key comes from Better Auth's own rotation logic: key A's `expiresAt` is set to the
// past in Better Auth's SQLite file (the state `jwks.rotationInterval` reaches when the interval
// runs out); Better Auth 1.7.25 reads its keys from the database on every request, so its next
// /token mints and signs with a new key B, and its /jwks publishes A (grace period) and B.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import { join } from "node:path";
import { Agent, Recording, rawRequest } from "./lib/agent.mjs";
import { freshDatabase } from "./lib/db.mjs";
import { decodeJwt } from "./lib/guard.mjs";
import { TESSERA_BIN, WORK, freePort, randomSecret, removeWork, startServer, stopAll } from "./lib/servers.mjs";
import { finish, onFinish, step } from "./lib/steps.mjs";

const PASSWORD = "correct horse battery";
const START_TIMEOUT_MS = 30_000;
const POLL_MS = 100;
const secret = randomSecret();
const run = Math.random().toString(36).slice(2, 8);
const email = `guard-${run}@example.com`;

// ------------------------------------------------------------------------------------------------
// The counting reverse proxy (Better Auth's public address)

/** Forwards everything to `target` (set later); records each GET /api/auth/jwks it relays. */
function startCountingProxy() {
  const proxy = { target: null, fetches: [] };
  const server = createServer((req, res) => {
    const upstream = httpRequest(`${proxy.target}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
      const chunks = [];
      up.on("data", (c) => chunks.push(c));
      up.on("end", () => {
        const body = Buffer.concat(chunks);
        if (req.method === "GET" && new URL(req.url, "http://proxy").pathname === "/api/auth/jwks") {
          let kids = null;
          try {
            kids = JSON.parse(body.toString("utf8")).keys.map((k) => k.kid);
          } catch {
            // recorded as null: not a JWKS
          }
          proxy.fetches.push({
            userAgent: req.headers["user-agent"] ?? "",
            status: up.statusCode,
            cacheControl: up.headers["cache-control"] ?? null,
            kids,
          });
        }
        res.writeHead(up.statusCode, up.headers);
        res.end(body);
      });
      up.on("error", (e) => res.destroy(e));
    });
    upstream.on("error", (e) => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`proxy: ${e.message}`);
    });
    req.pipe(upstream);
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      proxy.url = `http://127.0.0.1:${server.address().port}`;
      proxy.close = () =>
        new Promise((done) => {
          server.close(() => done());
          server.closeAllConnections();
        });
      ok(proxy);
    });
  });
}

// ------------------------------------------------------------------------------------------------
// `tessera api` as a long-lived guard process, stopped by PID

const apis = new Set();
for (const signal of ["SIGINT", "SIGTERM"]) {
  // lib/servers.mjs stops Better Auth and exits on these; stop the guards too (kill is synchronous).
  process.once(signal, () => [...apis].forEach((a) => a.stop()));
}

/** Starts `tessera api` and waits until it answers (its JWKS prefetch happens before it listens). */
async function startApi({ label, jwksUrl, cooldown }) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dir = join(WORK, `guard-refetch-${label}`);
  mkdirSync(dir, { recursive: true });
  const log = join(dir, "api.log");
  const fd = openSync(log, "a");
  const env = { ...process.env };
  for (const name of [
    "DATABASE_URL",
    "BETTER_AUTH_SECRET",
    "BETTER_AUTH_SECRETS",
    "TESSERA_JWKS_URL",
    "TESSERA_JWT_ISSUER",
    "TESSERA_JWT_AUDIENCE",
    "TESSERA_JWT_LEEWAY",
    "TESSERA_JWKS_COOLDOWN",
    "TESSERA_JWKS_ALLOW_HTTP",
    "TESSERA_CORS_ORIGINS",
  ]) {
    delete env[name];
  }
  // The guard logs each successful JWKS fetch ("JWKS fetched") at debug level.
  Object.assign(env, { TESSERA_DATA_DIR: dir, RUST_LOG: "warn,tessera_guard=debug", NO_COLOR: "1" });
  const args = ["api", "--addr", `127.0.0.1:${port}`, "--jwks-url", jwksUrl, "--jwks-cooldown", String(cooldown)];
  const child = spawn(TESSERA_BIN, args, { cwd: dir, env, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  let exited = null;
  const exitPromise = new Promise((done) =>
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      done(exited);
    }),
  );
  const api = {
    label,
    url,
    pid: child.pid,
    log,
    async stop() {
      if (!apis.has(api)) return;
      apis.delete(api);
      if (exited === null) {
        process.kill(child.pid, "SIGTERM");
        const timer = setTimeout(() => exited === null && process.kill(child.pid, "SIGKILL"), 5_000);
        await exitPromise;
        clearTimeout(timer);
      }
    },
    text: () => {
      try {
        return readFileSync(log, "utf8");
      } catch {
        return "";
      }
    },
    /**
     * How many JWKS fetches the guard itself logged as successful, once at least `expected` are
     * (or after 2 s): Tessera writes its log from a background thread, a moment after the event.
     */
    loggedFetches: async (expected) => {
      const count = () => (api.text().match(/JWKS fetched/g) ?? []).length;
      for (const deadline = Date.now() + 2_000; count() < expected && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return count();
    },
    me: (token) => get(`${url}/api/me`, token === undefined ? {} : { authorization: `Bearer ${token}` }),
  };
  apis.add(api);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== null) {
      apis.delete(api);
      throw new Error(`tessera api (${label}) exited (${JSON.stringify(exited)}):\n${api.text()}`);
    }
    try {
      if ((await get(`${url}/api/openapi.json`)).status === 200) return api;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  await api.stop();
  throw new Error(`tessera api (${label}) did not answer within ${START_TIMEOUT_MS} ms:\n${api.text()}`);
}

async function get(url, headers = {}) {
  const r = await rawRequest(url, "GET", new Headers(headers));
  let json;
  try {
    json = JSON.parse(r.text);
  } catch {
    json = undefined;
  }
  return { ...r, json };
}

// ------------------------------------------------------------------------------------------------

const db = await freshDatabase("sqlite", "compat_guard_refetch");
let proxy;
onFinish(async (ok) => {
  await Promise.all([...apis].map((a) => a.stop()));
  await stopAll();
  await proxy?.close();
  await db.close();
  if (ok) removeWork();
});

let ba;
let browser;
let jwksUrl;
let api; // --jwks-cooldown 0
let apiProd; // --jwks-cooldown 3600
const user = {};
const jwt = {};
const kid = {};

/** A fresh JWT from Better Auth's /token for the signed-up user. */
async function mint() {
  const t = await browser.send(null, { path: "/token", expect: 200 });
  return t.json.token;
}
/** The kids Better Auth publishes now (asked directly, not through the counting proxy). */
async function publishedKids() {
  const r = await browser.send(null, { path: "/jwks", cookies: false, expect: 200 });
  return r.json.keys.map((k) => k.kid);
}
/** Expires a key in Better Auth's SQLite file, as `jwks.rotationInterval` would have. */
async function expireKey(id) {
  const past = new Date(Date.now() - 60_000).toISOString();
  // lib/db.mjs reads rows back (`.all()`), so the UPDATE returns the row it changed.
  const [row] = await db.query(`UPDATE "jwks" SET "expiresAt" = ? WHERE "id" = ? RETURNING "expiresAt"`, [past, id]);
  assert.equal(row?.expiresAt, past, `key ${id} was not expired`);
}
function assertMe(r, label) {
  assert.equal(r.status, 200, `${label}: ${r.status} ${r.text}`);
  assert.deepEqual(r.json, { user_id: user.id, email });
}
function assertRejected(r, label) {
  assert.equal(r.status, 401, `${label}: ${r.status} ${r.text}`);
  assert.deepEqual(r.json, { detail: "Invalid or expired token" }, label);
  assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer\b/, `${label}: WWW-Authenticate`);
}

await step("a real Better Auth 1.7.25 (SQLite in a temp dir) runs behind a counting reverse proxy, its public address", async () => {
  proxy = await startCountingProxy();
  ba = await startServer("better-auth", {
    secret,
    baseUrl: proxy.url,
    env: { DATABASE_URL: db.url },
    label: "guard-refetch-better-auth",
  });
  proxy.target = ba.url;
  const ok = await get(`${proxy.url}/api/auth/ok`);
  assert.equal(ok.status, 200, `through the proxy: ${ok.status} ${ok.text}`);
  jwksUrl = `${proxy.url}/api/auth/jwks`;
  assert.equal(proxy.fetches.length, 0);
});

await step("a user signs up; Better Auth's /api/auth/token mints a JWT with key A, iss = aud = the JWKS URL's origin", async () => {
  browser = new Agent(new Recording(ba));
  const r = await browser.send(null, { path: "/sign-up/email", json: { name: "Grace", email, password: PASSWORD }, expect: 200 });
  user.id = r.json.user.id;
  jwt.a = await mint();
  const { header, payload } = decodeJwt(jwt.a);
  kid.a = header.kid;
  assert.ok(kid.a, "no kid in Better Auth's JWT header");
  assert.equal(header.alg, "EdDSA");
  const origin = new URL(jwksUrl).origin;
  // What `tessera api` expects when given only --jwks-url (crates/tessera/src/api.rs).
  assert.equal(payload.iss, origin, "iss is not the JWKS URL's origin");
  assert.equal(payload.aud, origin, "aud is not the JWKS URL's origin");
  assert.equal(payload.sub, user.id);
  assert.equal(payload.email, email);
  assert.deepEqual(await publishedKids(), [kid.a]);
});

await step("`tessera api --jwks-url <Better Auth>/api/auth/jwks` starts and fetches the JWKS exactly once (key A only)", async () => {
  // --jwks-cooldown 0: every token with an unknown kid may refetch at once. The cooldown counts
  // whole seconds since the last fetch attempt, and this guard's last attempt (its start-up
  // prefetch) can be well under a second before the key-B request below, so any cooldown ≥ 1
  // would make the refetch depend on timing — or on a blind sleep. In production keep the
  // default (10 s): unknown kids are attacker-controlled, and without a cooldown every garbage
  // token with a random kid would cost a request to the auth server (a fetch storm), while a
  // genuinely new key only has to wait out at most one cooldown. (apiProd below shows that.)
  api = await startApi({ label: "cooldown-0", jwksUrl, cooldown: 0 });
  assert.equal(proxy.fetches.length, 1, `JWKS fetches: ${JSON.stringify(proxy.fetches)}`);
  const [first] = proxy.fetches;
  assert.match(first.userAgent, /^tessera-guard\//, "the fetch did not come from the guard");
  assert.equal(first.status, 200);
  assert.deepEqual(first.kids, [kid.a]);
  // No Cache-Control from Better Auth: the guard keeps the set fresh for its default 5 minutes,
  // so nothing but an unknown kid makes it fetch again during this test.
  assert.equal(first.cacheControl, null, `Better Auth sent Cache-Control: ${first.cacheControl}`);
  assert.equal(await api.loggedFetches(1), 1, "the guard's log does not show one fetch");
});

await step("GET /api/me with Better Auth's JWT (key A) → 200 with its user_id and email; no further JWKS fetch", async () => {
  assertMe(await api.me(jwt.a), "key A");
  assert.equal(proxy.fetches.length, 1);
});

await step("tampered JWTs (payload, signature) and a missing token → 401; known kid, so no JWKS fetch", async () => {
  const [h, p, s] = jwt.a.split(".");
  const claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
  const forged = Buffer.from(JSON.stringify({ ...claims, sub: `${claims.sub}x`, email: "mallory@example.com" })).toString("base64url");
  assertRejected(await api.me(`${h}.${forged}.${s}`), "tampered payload");
  const flipped = (s[0] === "A" ? "B" : "A") + s.slice(1);
  assertRejected(await api.me(`${h}.${p}.${flipped}`), "tampered signature");
  const missing = await api.me();
  assert.equal(missing.status, 401);
  assert.deepEqual(missing.json, { detail: "Missing authorization header" });
  assert.equal(proxy.fetches.length, 1, `JWKS fetches: ${JSON.stringify(proxy.fetches)}`);
});

await step("Better Auth rotates: key A expires in its SQLite file, and its next /token is signed with a new key B the guard has not seen", async () => {
  await expireKey(kid.a);
  jwt.b = await mint();
  kid.b = decodeJwt(jwt.b).header.kid;
  assert.ok(kid.b, "no kid in the new JWT");
  assert.notEqual(kid.b, kid.a, "Better Auth still signs with key A");
  assert.ok(!proxy.fetches[0].kids.includes(kid.b), "key B was already in the JWKS the guard fetched");
  assert.deepEqual((await publishedKids()).sort(), [kid.a, kid.b].sort(), "Better Auth should publish A (grace period) and B");
  assert.equal(proxy.fetches.length, 1);
});

await step("GET /api/me with the key-B JWT → 200 after exactly one automatic JWKS refetch, which brought key B", async () => {
  assertMe(await api.me(jwt.b), "key B");
  assert.equal(proxy.fetches.length, 2, `JWKS fetches: ${JSON.stringify(proxy.fetches)}`);
  const second = proxy.fetches[1];
  assert.match(second.userAgent, /^tessera-guard\//);
  assert.equal(second.status, 200);
  assert.deepEqual([...second.kids].sort(), [kid.a, kid.b].sort());
  assert.equal(await api.loggedFetches(2), 2, "the guard's log does not show exactly one refetch");
});

await step("both keys now verify from the cache: key A (still published) and key B again → 200, no further fetch", async () => {
  assertMe(await api.me(jwt.a), "key A after the refetch");
  assertMe(await api.me(jwt.b), "key B again");
  assertMe(await api.me(await mint()), "a fresh key-B JWT");
  assert.equal(proxy.fetches.length, 2, `JWKS fetches: ${JSON.stringify(proxy.fetches)}`);
  assert.equal(await api.loggedFetches(2), 2);
});

await step("with a production-like cooldown (3600 s), a just-started guard does not refetch: key C's JWT → 401, no fetch", async () => {
  apiProd = await startApi({ label: "cooldown-3600", jwksUrl, cooldown: 3600 });
  assert.equal(proxy.fetches.length, 3, "the second guard's start-up prefetch");
  assert.deepEqual([...proxy.fetches[2].kids].sort(), [kid.a, kid.b].sort());
  assertMe(await apiProd.me(jwt.b), "key B on the second guard");
  await expireKey(kid.b);
  jwt.c = await mint();
  kid.c = decodeJwt(jwt.c).header.kid;
  assert.ok(![kid.a, kid.b].includes(kid.c), "Better Auth did not mint a key C");
  // The unknown kid asks for a refetch, but the prefetch (its last attempt) is inside the cooldown.
  assertRejected(await apiProd.me(jwt.c), "key C inside the cooldown");
  assert.equal(proxy.fetches.length, 3, `JWKS fetches: ${JSON.stringify(proxy.fetches)}`);
  assert.equal(await apiProd.loggedFetches(1), 1);
});

await step("the cooldown-0 guard accepts the same key-C JWT after one more refetch", async () => {
  assertMe(await api.me(jwt.c), "key C");
  assert.equal(proxy.fetches.length, 4, `JWKS fetches: ${JSON.stringify(proxy.fetches)}`);
  assert.ok(proxy.fetches[3].kids.includes(kid.c));
  assert.equal(await api.loggedFetches(3), 3);
});

await step("every process stops by its PID (both tessera api, Better Auth) and the proxy closes", async () => {
  await api.stop();
  await apiProd.stop();
  await ba.stop();
  await proxy.close();
  proxy = undefined;
  assert.equal(apis.size, 0);
});

await finish();
