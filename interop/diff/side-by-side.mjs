// Side by side: Better Auth 1.7.25 and Tessera (TESSERA_PASSWORD_HASH=scrypt) serve ONE database
// at the same time, behind one public URL, so a migration can move traffic over gradually.
//
//   node side-by-side.mjs --db sqlite|postgres
//   env: as adoption.mjs
//
// Both processes get the same BETTER_AUTH_SECRET and BETTER_AUTH_URL (the public address; JWT
// iss/aud) and run concurrently on one SQLite file (WAL) or one PostgreSQL database. Whatever
// one creates — users, password hashes, sessions, the signing key — works on the other.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { waitForMail } from "../mail.mjs";
import { Agent, Recording } from "./lib/agent.mjs";
import { freshDatabase } from "./lib/db.mjs";
import { decodeJwt, guardVerify } from "./lib/guard.mjs";
import { randomSecret, removeWork, startServer, stopAll, WORK } from "./lib/servers.mjs";
import { totpCode } from "../totp.mjs";
import { finish, onFinish, step } from "./lib/steps.mjs";

const argv = process.argv.slice(2);
const kind = argv[argv.indexOf("--db") + 1];
if (!["sqlite", "postgres"].includes(kind)) {
  console.error("usage: node side-by-side.mjs --db sqlite|postgres");
  process.exit(2);
}

const SCRYPT = /^[0-9a-f]{32}:[0-9a-f]{128}$/;
const PASSWORD = "correct horse battery";
const NEW_PASSWORD = "correct horse battery staple";
const secret = randomSecret();
const run = Math.random().toString(36).slice(2, 8);
const fromBa = `from-ba-${run}@example.com`;
const fromTessera = `from-tessera-${run}@example.com`;
const param = kind === "sqlite" ? "?" : "$1";
const mailLog = join(WORK, `side-${kind}-mail.jsonl`);
// Change-email and delete-user (confirmed by a mailed link) on both, the same way.
// Change-email, deletion and the twoFactor plugin on both servers (Tessera's names; interop/better-auth-server.mjs maps them).
const ACCOUNT_ENV = { TESSERA_CHANGE_EMAIL: "true", TESSERA_DELETE_USER: "true", TESSERA_DELETE_USER_VERIFICATION: "true", TESSERA_TWO_FACTOR: "true" };

const db = await freshDatabase(kind, "compat_side_by_side");
onFinish(async (ok) => {
  await stopAll();
  await db.close();
  if (ok) removeWork();
});

let ba;
let tessera;
const users = {};
/** A browser: one cookie jar, pointed at either server. */
const browser = () => {
  const jar = new Map();
  const on = (server) => {
    const agent = new Agent(new Recording(server));
    agent.jar = jar;
    return agent;
  };
  return { jar, ba: () => on(ba), tessera: () => on(tessera) };
};
const hashOf = async (userId) => (await db.query(`SELECT "password" FROM "account" WHERE "userId" = ${param}`, [userId]))[0].password;

await step(`Better Auth and Tessera (scrypt) run at once on one ${kind} database`, async () => {
  ba = await startServer("better-auth", { secret, env: { DATABASE_URL: db.url, BETTER_AUTH_MAIL_LOG: mailLog, ...ACCOUNT_ENV }, label: `side-${kind}-better-auth` });
  tessera = await startServer("tessera", {
    secret,
    baseUrl: ba.url,
    // As docs/migrating-from-better-auth.md says: no session cache while Better Auth can end sessions.
    env: { DATABASE_URL: db.url, TESSERA_PASSWORD_HASH: "scrypt", TESSERA_SESSION_CACHE_TTL: "0", ...ACCOUNT_ENV },
    label: `side-${kind}-tessera`,
  });
  assert.equal(tessera.origin, ba.origin);
});

await step("a user who signs up on Better Auth signs in on Tessera", async () => {
  const b = browser();
  const r = await b.ba().send(null, { path: "/sign-up/email", json: { name: "From BA", email: fromBa, password: PASSWORD }, expect: 200 });
  users.ba = r.json.user;
  const s = await browser().tessera().send(null, { path: "/sign-in/email", json: { email: fromBa, password: PASSWORD }, expect: 200 });
  assert.equal(s.json.user.id, users.ba.id);
});

await step("…and Tessera leaves the hash in Better Auth's format, so Better Auth still signs them in", async () => {
  assert.match(await hashOf(users.ba.id), SCRYPT);
  await browser().ba().send(null, { path: "/sign-in/email", json: { email: fromBa, password: PASSWORD }, expect: 200 });
});

await step("a user who signs up on Tessera gets a scrypt hash and signs in on Better Auth", async () => {
  const r = await browser().tessera().send(null, { path: "/sign-up/email", json: { name: "From Tessera", email: fromTessera, password: PASSWORD }, expect: 200 });
  users.tessera = r.json.user;
  assert.match(await hashOf(users.tessera.id), SCRYPT);
  const s = await browser().ba().send(null, { path: "/sign-in/email", json: { email: fromTessera, password: PASSWORD }, expect: 200 });
  assert.equal(s.json.user.id, users.tessera.id);
});

await step("a session created by Better Auth is live on Tessera, and one created by Tessera on Better Auth", async () => {
  const viaBa = browser();
  await viaBa.ba().send(null, { path: "/sign-in/email", json: { email: fromTessera, password: PASSWORD }, expect: 200 });
  const onTessera = await viaBa.tessera().send(null, { path: "/get-session", expect: 200 });
  assert.equal(onTessera.json?.user?.id, users.tessera.id, "Tessera does not see Better Auth's session");
  const viaTessera = browser();
  await viaTessera.tessera().send(null, { path: "/sign-in/email", json: { email: fromBa, password: PASSWORD }, expect: 200 });
  const onBa = await viaTessera.ba().send(null, { path: "/get-session", expect: 200 });
  assert.equal(onBa.json?.user?.id, users.ba.id, "Better Auth does not see Tessera's session");
  assert.equal(onBa.json.session.id, (await viaTessera.tessera().send(null, { path: "/get-session" })).json.session.id);
});

await step("both sign JWTs with one key: Tessera creates it, Better Auth uses it, each verifies in the guard", async () => {
  const b = browser();
  await b.tessera().send(null, { path: "/sign-in/email", json: { email: fromBa, password: PASSWORD }, expect: 200 });
  const fromT = (await b.tessera().send(null, { path: "/token", expect: 200 })).json.token;
  const fromB = (await b.ba().send(null, { path: "/token", expect: 200 })).json.token;
  const kid = decodeJwt(fromT).header.kid;
  assert.equal(decodeJwt(fromB).header.kid, kid, "Better Auth did not sign with the key Tessera created");
  const rows = await db.query(`SELECT "id" FROM "jwks"`);
  assert.deepEqual(rows.map((r) => r.id), [kid]);
  for (const [token, jwks] of [[fromB, tessera], [fromT, ba]]) {
    const claims = await guardVerify(token, { jwksUrl: `${jwks.url}/api/auth/jwks`, issuer: ba.origin, audience: ba.origin });
    assert.equal(claims.sub, users.ba.id);
  }
});

await step("a password changed on Tessera is the new password on Better Auth", async () => {
  const b = browser();
  await b.tessera().send(null, { path: "/sign-in/email", json: { email: fromBa, password: PASSWORD }, expect: 200 });
  await b.tessera().send(null, { path: "/change-password", json: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, expect: 200 });
  assert.match(await hashOf(users.ba.id), SCRYPT);
  await browser().ba().send(null, { path: "/sign-in/email", json: { email: fromBa, password: NEW_PASSWORD }, expect: 200 });
  const old = await browser().ba().send(null, { path: "/sign-in/email", json: { email: fromBa, password: PASSWORD } });
  assert.equal(old.status, 401);
});

await step("a profile updated on Better Auth shows on Tessera", async () => {
  const b = browser();
  await b.ba().send(null, { path: "/sign-in/email", json: { email: fromTessera, password: PASSWORD }, expect: 200 });
  await b.ba().send(null, { path: "/update-user", json: { name: "Renamed on BA", image: "https://img.example/x.png" }, expect: 200 });
  const s = await b.tessera().send(null, { path: "/get-session", expect: 200 });
  assert.equal(s.json.user.name, "Renamed on BA");
  assert.equal(s.json.user.image, "https://img.example/x.png");
});

await step("revoke-other-sessions on Tessera signs out a session Better Auth created; list-sessions agrees", async () => {
  const keep = browser();
  const other = browser();
  await keep.tessera().send(null, { path: "/sign-in/email", json: { email: fromTessera, password: PASSWORD }, expect: 200 });
  await other.ba().send(null, { path: "/sign-in/email", json: { email: fromTessera, password: PASSWORD }, expect: 200 });
  const listT = (await keep.tessera().send(null, { path: "/list-sessions", expect: 200 })).json;
  const listB = (await keep.ba().send(null, { path: "/list-sessions", expect: 200 })).json;
  assert.deepEqual(listT.map((s) => s.id).sort(), listB.map((s) => s.id).sort(), "the two servers list different sessions");
  await keep.tessera().send(null, { path: "/revoke-other-sessions", json: {}, expect: 200 });
  assert.equal((await other.ba().send(null, { path: "/get-session", expect: 200 })).json, null);
  assert.ok((await keep.ba().send(null, { path: "/get-session", expect: 200 })).json);
});

await step("sign-out on Better Auth ends a session Tessera created", async () => {
  const b = browser();
  await b.tessera().send(null, { path: "/sign-in/email", json: { email: fromBa, password: NEW_PASSWORD }, expect: 200 });
  const cookie = b.tessera().cookieHeader();
  const { id } = (await b.tessera().send(null, { path: "/get-session", expect: 200 })).json.session;
  await b.ba().send(null, { path: "/sign-out", json: {}, expect: 200 });
  assert.equal(b.jar.has("better-auth.session_token"), false, "Better Auth did not expire the cookie");
  const rows = await db.query(`SELECT "id" FROM "session" WHERE "id" = ${param}`, [id]);
  assert.equal(rows.length, 0, "the session row is still there");
  const after = await browser().tessera().send(null, { path: "/get-session", cookies: cookie, expect: 200 });
  assert.equal(after.json, null, "Tessera still accepts the signed-out cookie");
});

await step("a verification link Better Auth mails verifies the address on Tessera (stateless JWT, one secret)", async () => {
  await browser().ba().send(null, { path: "/send-verification-email", json: { email: fromTessera }, expect: 200 });
  const mails = existsSync(mailLog) ? readFileSync(mailLog, "utf8").trim().split("\n").map((l) => JSON.parse(l)) : [];
  const mail = mails.findLast((m) => m.kind === "verify-email" && m.to === fromTessera);
  assert.ok(mail, "Better Auth mailed no verification link");
  const link = mail.url.slice(mail.url.indexOf("/verify-email"));
  const r = await browser().tessera().send(null, { path: link, expect: 302 });
  assert.equal(r.headers.get("location"), "/");
  const [row] = await db.query(`SELECT "emailVerified" AS v FROM "user" WHERE "email" = ${param}`, [fromTessera]);
  assert.ok(row.v === true || Number(row.v) === 1, "Tessera did not mark the address verified");
});

await step("a verification link Tessera mails verifies the address on Better Auth (the same JWT, the other way)", async () => {
  await browser().tessera().send(null, { path: "/send-verification-email", json: { email: fromBa }, expect: 200 });
  // Tessera runs in development here without SMTP: the mail is an .eml file in its data directory.
  const text = await waitForMail([join(tessera.dir, "mail")], fromBa);
  const url = /(https?:\/\/\S+\/api\/auth\/verify-email\?\S+)/.exec(text)?.[1];
  assert.ok(url, `no verification link in Tessera's mail:\n${text}`);
  const r = await browser().ba().send(null, { path: url.slice(url.indexOf("/verify-email")), expect: 302 });
  assert.equal(r.headers.get("location"), "/");
  const [row] = await db.query(`SELECT "emailVerified" AS v FROM "user" WHERE "email" = ${param}`, [fromBa]);
  assert.ok(row.v === true || Number(row.v) === 1, "Better Auth did not mark the address verified");
});

/** The newest link Better Auth mailed to `to` whose URL contains `pathPart`, as a path. */
const baLink = (to, pathPart) => {
  const mails = existsSync(mailLog) ? readFileSync(mailLog, "utf8").trim().split("\n").map((l) => JSON.parse(l)) : [];
  const mail = mails.findLast((m) => m.to === to && m.url.includes(pathPart));
  assert.ok(mail, `Better Auth mailed no ${pathPart} link to ${to}`);
  return mail.url.slice(mail.url.indexOf("/api/auth") + "/api/auth".length);
};
/** The first link Tessera mailed (an .eml file) to `to` whose URL contains `pathPart`, as a path. */
const tesseraLink = async (to, pathPart) => {
  const text = await waitForMail([join(tessera.dir, "mail")], to, 30_000, new RegExp(pathPart.replace("/", "\\/")));
  const url = /(https?:\/\/\S+\/api\/auth\/\S+)/.exec(text)?.[1];
  assert.ok(url && url.includes(pathPart), `no ${pathPart} link in Tessera's mail:\n${text}`);
  return url.slice(url.indexOf("/api/auth") + "/api/auth".length);
};
const emailOf = async (id) => (await db.query(`SELECT "email" FROM "user" WHERE "id" = ${param}`, [id]))[0]?.email;
const signedUp = async (server, who) => {
  const b = browser();
  const r = await b[server]().send(null, { path: "/sign-up/email", json: { name: who, email: `${who}-${run}@example.com`, password: PASSWORD }, expect: 200 });
  return { b, id: r.json.user.id, email: `${who}-${run}@example.com` };
};

await step("a change-email link Better Auth mails moves the account on Tessera", async () => {
  const u = await signedUp("ba", "mover-ba");
  const to = `moved-ba-${run}@example.com`;
  await u.b.ba().send(null, { path: "/change-email", json: { newEmail: to }, expect: 200 });
  const r = await browser().tessera().send(null, { path: baLink(to, "/verify-email").split("&callbackURL")[0], expect: 200 });
  assert.equal(r.json.user.email, to);
  assert.equal(await emailOf(u.id), to);
});

await step("a change-email link Tessera mails moves the account on Better Auth", async () => {
  const u = await signedUp("tessera", "mover-tessera");
  const to = `moved-tessera-${run}@example.com`;
  await u.b.tessera().send(null, { path: "/change-email", json: { newEmail: to }, expect: 200 });
  const r = await browser().ba().send(null, { path: (await tesseraLink(to, "/verify-email")).split("&callbackURL")[0], expect: 200 });
  assert.equal(r.json.user.email, to);
  assert.equal(await emailOf(u.id), to);
});

await step("a deletion link Tessera mails deletes the account on Better Auth (Better Auth's delete-account row)", async () => {
  const u = await signedUp("tessera", "leaver-tessera");
  const sent = await u.b.tessera().send(null, { path: "/delete-user", json: {}, expect: 200 });
  assert.equal(sent.json.message, "Verification email sent");
  const r = await u.b.ba().send(null, { path: await tesseraLink(u.email, "/delete-user/callback"), expect: 302 });
  assert.equal(r.headers.get("location"), "/");
  assert.equal(await emailOf(u.id), undefined, "Better Auth did not delete the user");
});

await step("a deletion link Better Auth mails deletes the account on Tessera, its sessions recorded as revoked", async () => {
  const u = await signedUp("ba", "leaver-ba");
  const sent = await u.b.ba().send(null, { path: "/delete-user", json: {}, expect: 200 });
  assert.equal(sent.json.message, "Verification email sent");
  const r = await u.b.tessera().send(null, { path: baLink(u.email, "/delete-user/callback"), expect: 302 });
  assert.equal(r.headers.get("location"), "/");
  assert.equal(await emailOf(u.id), undefined, "Tessera did not delete the user");
  const revoked = await db.query(`SELECT "session_id" FROM "revocation" WHERE "user_id" = ${param}`, [u.id]);
  assert.equal(revoked.length, 1, "the deleted user's session has its revocation record");
});

/**
 * A new user turns two-factor on at `owner`; `other` then asks for the second factor at sign-in,
 * and a TOTP code (`steps` periods on) and a backup code `owner` issued pass it: the secret and
 * the codes are sealed alike, under the one secret.
 */
async function twoFactorAcross(owner, other, steps) {
  const u = await signedUp(owner, `tfa-${owner}`);
  const enabled = await u.b[owner]().send(null, { path: "/two-factor/enable", json: { password: PASSWORD }, expect: 200 });
  await u.b[owner]().send(null, { path: "/two-factor/verify-totp", json: { code: await totpCode(enabled.json.totpURI, 0) }, expect: 200 });
  const c = browser()[other]();
  const r = await c.send(null, { path: "/sign-in/email", json: { email: u.email, password: PASSWORD }, expect: 200 });
  assert.equal(r.json.twoFactorRedirect, true, `${other} did not ask for the second factor`);
  const v = await c.send(null, { path: "/two-factor/verify-totp", json: { code: await totpCode(enabled.json.totpURI, steps) }, expect: 200 });
  assert.equal(v.json.user.email, u.email);
  const backup = browser()[other]();
  await backup.send(null, { path: "/sign-in/email", json: { email: u.email, password: PASSWORD }, expect: 200 });
  await backup.send(null, { path: "/two-factor/verify-backup-code", json: { code: enabled.json.backupCodes[0] }, expect: 200 });
}

await step("two-factor turned on at Tessera challenges the sign-in on Better Auth, and Tessera's sealed secret passes it", () =>
  twoFactorAcross("tessera", "ba", 0));
// The next period's code on Tessera: it takes each code once, and Better Auth was shown this one.
await step("two-factor turned on at Better Auth challenges the sign-in on Tessera, and Better Auth's sealed secret passes it", () =>
  twoFactorAcross("ba", "tessera", 1));

await finish();
