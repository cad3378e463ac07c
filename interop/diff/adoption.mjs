// Adoption in place: a database made and used by a real Better Auth 1.7.25 is served by Tessera,
// with the same BETTER_AUTH_SECRET and the same address, and nobody notices.
//
//   node adoption.mjs --db sqlite|postgres
//   env: TESSERA_BIN, TESSERA_GUARD_VERIFY, COMPAT_DATABASE_URL / TEST_DATABASE_URL (PostgreSQL
//        server for --db postgres), COMPAT_WORK
//
// Better Auth creates its own schema (runMigrations), users sign up (one with rememberMe:false),
// a JWT is minted (which creates the jwks key), one registers a passkey (both servers run with
// TESSERA_PASSKEY=true); Better Auth's on-disk formats are checked; then
// Better Auth is stopped and Tessera started on the same database, port and secret, and:
// the old session cookies and bearer token still work, the old passwords sign in, Tessera signs
// with the existing key (same kid) and publishes no other, and the JWT Better Auth minted before
// the switch verifies in Tessera's guard against Tessera's JWKS, and the passkey registered on
// Better Auth signs in on Tessera and is listed there as the same row.

import assert from "node:assert/strict";
import { totpCode } from "../totp.mjs";
import { Agent, Recording } from "./lib/agent.mjs";
import { freshDatabase } from "./lib/db.mjs";
import { decodeJwt, guardVerify } from "./lib/guard.mjs";
import { SoftPasskey } from "../softpasskey.mjs";
import { randomSecret, removeWork, startServer, stopAll } from "./lib/servers.mjs";
import { finish, onFinish, step } from "./lib/steps.mjs";

const argv = process.argv.slice(2);
const kind = argv[argv.indexOf("--db") + 1];
if (!["sqlite", "postgres"].includes(kind)) {
  console.error("usage: node adoption.mjs --db sqlite|postgres");
  process.exit(2);
}

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SCRYPT = /^[0-9a-f]{32}:[0-9a-f]{128}$/;
const PASSWORD = "correct horse battery";
const secret = randomSecret();
const run = Math.random().toString(36).slice(2, 8);
const ada = `ada-${run}@example.com`;
const bob = `bob-${run}@example.com`;
const cy = `cy-${run}@example.com`;
const TWO_FACTOR = { TESSERA_TWO_FACTOR: "true" };

const KEY = new SoftPasskey();
// Both servers with Better Auth's passkey plugin (Tessera's TESSERA_PASSKEY), so Better Auth's
// runMigrations creates the passkey table Tessera then reads.
const PASSKEY_ENV = { TESSERA_PASSKEY: "true" };

const db = await freshDatabase(kind, "compat_adoption");
onFinish(async (ok) => {
  await stopAll();
  await db.close();
  if (ok) removeWork();
});

let ba;
let tessera;
const browsers = {};
const before = {};
const client = (server, jar) => {
  const agent = new Agent(new Recording(server));
  if (jar) agent.jar = jar;
  return agent;
};

await step(`Better Auth 1.7.25 creates its schema in a fresh ${kind} database`, async () => {
  ba = await startServer("better-auth", { secret, env: { DATABASE_URL: db.url, ...TWO_FACTOR, ...PASSKEY_ENV }, label: `adoption-${kind}-better-auth` });
  const tables = kind === "sqlite"
    ? await db.query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
    : await db.query(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'`);
  const names = tables.map((t) => t.name);
  for (const table of ["user", "session", "account", "verification", "jwks", "twoFactor", "passkey"]) assert.ok(names.includes(table), `no ${table} table: ${names}`);
});

await step("users sign up on Better Auth (one with rememberMe: false) and get session cookies", async () => {
  browsers.ada = client(ba);
  const a = await browsers.ada.send(null, { path: "/sign-up/email", json: { name: "Ada", email: ada, password: PASSWORD }, expect: 200 });
  before.adaUser = a.json.user;
  before.adaBearer = a.headers.get("set-auth-token");
  browsers.bob = client(ba);
  const b = await browsers.bob.send(null, { path: "/sign-up/email", json: { name: "Bob", email: bob, password: PASSWORD, rememberMe: false }, expect: 200 });
  before.bobUser = b.json.user;
  assert.ok(browsers.bob.cookie("better-auth.dont_remember"), "no dont_remember cookie for rememberMe:false");
  const s = await browsers.ada.send(null, { path: "/get-session", expect: 200 });
  before.adaSession = s.json.session;
});

await step("Better Auth mints a JWT, creating its jwks key", async () => {
  const t = await browsers.ada.send(null, { path: "/token", expect: 200 });
  before.jwt = t.json.token;
  const jwks = await browsers.ada.send(null, { path: "/jwks", expect: 200 });
  assert.equal(jwks.json.keys.length, 1);
  before.kid = jwks.json.keys[0].kid;
  assert.equal(decodeJwt(before.jwt).header.kid, before.kid);
  assert.equal(decodeJwt(before.jwt).payload.iss, ba.origin);
});

await step("a user turns two-factor on in Better Auth (TOTP confirmed, backup codes kept)", async () => {
  browsers.cy = client(ba);
  await browsers.cy.send(null, { path: "/sign-up/email", json: { name: "Cy", email: cy, password: PASSWORD }, expect: 200 });
  const enabled = await browsers.cy.send(null, { path: "/two-factor/enable", json: { password: PASSWORD }, expect: 200 });
  before.totpURI = enabled.json.totpURI;
  before.backupCodes = enabled.json.backupCodes;
  await browsers.cy.send(null, { path: "/two-factor/verify-totp", json: { code: await totpCode(before.totpURI, 0) }, expect: 200 });
  const [row] = await db.query(`SELECT "secret", "backupCodes" FROM "twoFactor"`);
  assert.match(row.secret, /^[0-9a-f]+$/, "the secret is sealed as bare hex (an unversioned secret)");
  assert.ok(!row.backupCodes.includes(before.backupCodes[0]), "backup codes are stored sealed");
});

await step("Ada registers a software passkey on Better Auth", async () => {
  const options = await browsers.ada.send(null, { path: "/passkey/generate-register-options", expect: 200 });
  const response = KEY.register(options.json, ba.origin);
  const added = await browsers.ada.send(null, { path: "/passkey/verify-registration", json: { response, name: "Ada's laptop" }, expect: 200 });
  assert.equal(added.json.credentialID, KEY.id);
  before.passkey = added.json;
  const rows = await db.query(`SELECT "id", "credentialID", "userId", "counter" FROM "passkey"`);
  assert.deepEqual(rows.map((r) => [r.id, r.credentialID, r.userId, Number(r.counter)]), [[added.json.id, KEY.id, before.adaUser.id, 0]]);
});

await step(`Better Auth's on-disk formats (${kind}) are the ones Tessera's store reads`, async () => {
  if (kind === "sqlite") {
    const [user] = await db.query(`SELECT typeof("createdAt") AS t, "createdAt" AS v, typeof("emailVerified") AS bt, "emailVerified" AS b FROM "user" WHERE "email" = ?`, [ada]);
    assert.deepEqual([user.t, user.bt, user.b], ["text", "integer", 0], JSON.stringify(user));
    assert.match(user.v, ISO_MS);
    const [session] = await db.query(`SELECT typeof("expiresAt") AS t, "expiresAt" AS v FROM "session" LIMIT 1`);
    assert.equal(session.t, "text");
    assert.match(session.v, ISO_MS);
    console.log(`# sqlite: dates are ISO-8601 text with milliseconds (${user.v}), booleans integer 0/1`);
  } else {
    const columns = await db.query(
      `SELECT table_name, column_name, data_type FROM information_schema.columns
       WHERE table_schema = 'public' AND column_name IN ('createdAt', 'expiresAt', 'emailVerified')`,
    );
    for (const c of columns) {
      const want = c.column_name === "emailVerified" ? "boolean" : "timestamp with time zone";
      assert.equal(c.data_type, want, `${c.table_name}.${c.column_name} is ${c.data_type}`);
    }
    console.log("# postgres: dates are timestamptz, booleans boolean");
  }
  const [account] = await db.query(`SELECT "password", "providerId", "accountId", "userId" FROM "account" WHERE "userId" = ${kind === "sqlite" ? "?" : "$1"}`, [before.adaUser.id]);
  assert.match(account.password, SCRYPT, "Better Auth's hash is scrypt salt:key hex");
  assert.deepEqual([account.providerId, account.accountId], ["credential", before.adaUser.id]);
  const [jwk] = await db.query(`SELECT "id", "privateKey", "alg", "crv" FROM "jwks"`);
  assert.equal(jwk.id, before.kid);
  assert.ok(jwk.privateKey.startsWith('"') && jwk.privateKey.endsWith('"'), "privateKey is a JSON-quoted string");
  assert.deepEqual([jwk.alg, jwk.crv], ["EdDSA", "Ed25519"]);
});

await step("Better Auth stops; Tessera starts on the same database, address and secret", async () => {
  await ba.stop();
  tessera = await startServer("tessera", { secret, port: ba.port, env: { DATABASE_URL: db.url, ...TWO_FACTOR, ...PASSKEY_ENV }, label: `adoption-${kind}-tessera` });
  assert.equal(tessera.origin, ba.origin);
});

await step("a session cookie issued by Better Auth before the switch is accepted by Tessera", async () => {
  const ada2 = client(tessera, browsers.ada.jar);
  const s = await ada2.send(null, { path: "/get-session", expect: 200 });
  assert.ok(s.json, "get-session returned null for Better Auth's cookie");
  assert.equal(s.json.session.id, before.adaSession.id);
  assert.equal(s.json.session.token, before.adaSession.token);
  assert.equal(s.json.user.id, before.adaUser.id);
  assert.equal(s.json.session.expiresAt, before.adaSession.expiresAt, "the session was slid or rewritten");
  assert.ok(s.headers.get("set-auth-jwt"), "no set-auth-jwt");
  const bob2 = client(tessera, browsers.bob.jar);
  const b = await bob2.send(null, { path: "/get-session", expect: 200 });
  assert.equal(b.json?.user?.id, before.bobUser.id, "Bob's rememberMe:false session was not accepted");
});

await step("the bearer token Better Auth sent (set-auth-token) works on Tessera", async () => {
  const r = await client(tessera).send(null, { path: "/get-session", cookies: false, headers: { authorization: `Bearer ${before.adaBearer}` }, expect: 200 });
  assert.equal(r.json?.user?.id, before.adaUser.id);
});

await step("Tessera keeps signing with Better Auth's key (same kid) and publishes no other", async () => {
  const t = await client(tessera, browsers.ada.jar).send(null, { path: "/token", expect: 200 });
  const { header, payload } = decodeJwt(t.json.token);
  assert.equal(header.kid, before.kid);
  assert.equal(header.alg, "EdDSA");
  assert.equal(payload.sub, before.adaUser.id);
  before.tesseraJwt = t.json.token;
  const jwks = await client(tessera).send(null, { path: "/jwks", expect: 200 });
  assert.deepEqual(jwks.json.keys.map((k) => k.kid), [before.kid]);
  const rows = await db.query(`SELECT "id" FROM "jwks"`);
  assert.deepEqual(rows.map((r) => r.id), [before.kid]);
});

await step("a JWT minted by Better Auth before the switch verifies in Tessera's guard (JWKS from Tessera)", async () => {
  const claims = await guardVerify(before.jwt, { jwksUrl: `${tessera.url}/api/auth/jwks`, issuer: tessera.origin, audience: tessera.origin });
  assert.equal(claims.sub, before.adaUser.id);
  assert.equal(claims.email, ada);
  const own = await guardVerify(before.tesseraJwt, { jwksUrl: `${tessera.url}/api/auth/jwks`, issuer: tessera.origin, audience: tessera.origin });
  assert.equal(own.sub, before.adaUser.id);
});

await step("existing users sign in on Tessera with the passwords they set on Better Auth", async () => {
  for (const [email, user] of [[ada, before.adaUser], [bob, before.bobUser]]) {
    const r = await client(tessera).send(null, { path: "/sign-in/email", json: { email, password: PASSWORD }, expect: 200 });
    assert.equal(r.json.user.id, user.id);
  }
  const wrong = await client(tessera).send(null, { path: "/sign-in/email", json: { email: ada, password: "not the password" } });
  assert.equal(wrong.status, 401);
});

await step("the passkey Ada registered on Better Auth signs her in on Tessera and is listed as the same row", async () => {
  const browser = client(tessera);
  const options = await browser.send(null, { path: "/passkey/generate-authenticate-options", expect: 200 });
  const r = await browser.send(null, { path: "/passkey/verify-authentication", json: { response: KEY.assert(options.json, tessera.origin) }, expect: 200 });
  assert.equal(r.json.session?.userId, before.adaUser.id, JSON.stringify(r.json));
  const s = await browser.send(null, { path: "/get-session", expect: 200 });
  assert.equal(s.json?.user?.id, before.adaUser.id, "the passkey sign-in gave no usable session");
  const list = await browser.send(null, { path: "/passkey/list-user-passkeys", expect: 200 });
  assert.deepEqual(list.json.map((p) => [p.id, p.credentialID, p.name]), [[before.passkey.id, KEY.id, "Ada's laptop"]]);
  const [row] = await db.query(`SELECT "counter" FROM "passkey"`);
  assert.equal(Number(row.counter), KEY.counter, "Tessera did not store the new signature counter in Better Auth's row");
});

await step("the sign-in upgraded the scrypt hash to Argon2id, which keeps working", async () => {
  const [account] = await db.query(`SELECT "password" FROM "account" WHERE "userId" = ${kind === "sqlite" ? "?" : "$1"}`, [before.adaUser.id]);
  assert.ok(account.password.startsWith("$argon2id$"), `hash not upgraded: ${account.password.slice(0, 12)}…`);
  await client(tessera).send(null, { path: "/sign-in/email", json: { email: ada, password: PASSWORD }, expect: 200 });
});

await step("Tessera asks Better Auth's two-factor user for a second factor; Better Auth's TOTP secret passes it", async () => {
  const c = client(tessera);
  const r = await c.send(null, { path: "/sign-in/email", json: { email: cy, password: PASSWORD }, expect: 200 });
  assert.equal(r.json.twoFactorRedirect, true);
  assert.ok(c.cookie("better-auth.two_factor"), "no two_factor cookie");
  // The next period's code: Tessera accepts a code once, and Better Auth saw this period's.
  const v = await c.send(null, { path: "/two-factor/verify-totp", json: { code: await totpCode(before.totpURI, 1) }, expect: 200 });
  assert.equal(v.json.user.email, cy);
  const s = await c.send(null, { path: "/get-session", expect: 200 });
  assert.equal(s.json.user.twoFactorEnabled, true);
});

await step("a backup code Better Auth issued passes Tessera's challenge, once", async () => {
  const c = client(tessera);
  await c.send(null, { path: "/sign-in/email", json: { email: cy, password: PASSWORD }, expect: 200 });
  await c.send(null, { path: "/two-factor/verify-backup-code", json: { code: before.backupCodes[0] }, expect: 200 });
  const d = client(tessera);
  await d.send(null, { path: "/sign-in/email", json: { email: cy, password: PASSWORD }, expect: 200 });
  const again = await d.send(null, { path: "/two-factor/verify-backup-code", json: { code: before.backupCodes[0] } });
  assert.equal(again.json?.code, "INVALID_BACKUP_CODE");
});

await step("sign-out on Tessera ends the session Better Auth created", async () => {
  const ada2 = client(tessera, browsers.ada.jar);
  await ada2.send(null, { path: "/sign-out", json: {}, expect: 200 });
  const s = await client(tessera).send(null, { path: "/get-session", cookies: false, headers: { authorization: `Bearer ${before.adaBearer}` }, expect: 200 });
  assert.equal(s.json, null);
});

await finish();
