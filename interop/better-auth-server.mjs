// The one real Better Auth 1.7.25 server of this repository, taking the same command line and
// environment as `tessera serve`, so every caller starts either server the same way:
//   scripts/test.sh interop with TESSERA_INTEROP_SERVER=better-auth (memory, the four algorithms),
//   interop/diff (compat stage: memory, SQLite and PostgreSQL, NODE_ENV=production for rate limits),
//   python/tessera-fastapi's tests (memory; its tokens in the verifier),
//   bench/harness.py (the Better Auth peer: SQLite, TESSERA_RATE_LIMIT=off).
//
//   node better-auth-server.mjs serve --addr 127.0.0.1:PORT
//   env: BETTER_AUTH_SECRET, BETTER_AUTH_URL, BETTER_AUTH_TRUSTED_ORIGINS (read by Better Auth
//          itself); NODE_ENV=production turns Better Auth's rate limiter on by default;
//        TESSERA_JWT_ALG = EdDSA (default) | ES256 | RS256 | HS256;
//        DATABASE_URL = unset (memory adapter) | sqlite:PATH (relative to the working directory,
//          or sqlite:///abs/path.db) | postgres://…;
//        TESSERA_RATE_LIMIT = on | off (default: Better Auth's own, on in production only).
//        BETTER_AUTH_MAIL_LOG = a file each mailed link is appended to as a JSON line (unset: dropped);
//        TESSERA_CHANGE_EMAIL, TESSERA_CHANGE_EMAIL_CONFIRMATION,
//          TESSERA_UPDATE_EMAIL_WITHOUT_VERIFICATION, TESSERA_DELETE_USER,
//          TESSERA_DELETE_USER_VERIFICATION = true | false (default false), and
//          TESSERA_DELETE_TOKEN_EXPIRES_IN = seconds: Better Auth's `user.changeEmail` and
//          `user.deleteUser` options under Tessera's names (the send callbacks capture mail).
//        TESSERA_PASSKEY = true: the @better-auth/passkey plugin, with TESSERA_PASSKEY_RP_ID,
//          TESSERA_PASSKEY_RP_NAME and TESSERA_PASSKEY_ORIGIN (default: BETTER_AUTH_URL's origin).
//        Social sign-in as `tessera serve` reads it: GOOGLE_CLIENT_ID + GOOGLE_CLIENT_SECRET
//          (socialProviders.google, TESSERA_GOOGLE_SCOPES), TESSERA_OAUTH_PROVIDERS=<id>[,<id>…]
//          with TESSERA_OAUTH_<ID>_ISSUER, _CLIENT_ID, _CLIENT_SECRET and _SCOPES (the genericOAuth
//          plugin with the issuer's discovery URL; scopes default to `email profile`),
//          TESSERA_OAUTH_TRUSTED_PROVIDERS (account.accountLinking.trustedProviders),
//          TESSERA_ENCRYPT_OAUTH_TOKENS=true (account.encryptOAuthTokens).
//        TESSERA_APP_NAME = Better Auth's appName (unset: its default, "Better Auth").
//        TESSERA_TWO_FACTOR = true (or on, 1): the twoFactor plugin (its issuer TESSERA_TWO_FACTOR_ISSUER, else
//          Better Auth's appName), its sign-in codes captured like the links ({kind, to, code}).
//
// With a database it first runs Better Auth's own migrations (`(await auth.$context).runMigrations()`;
// the `auth` CLI needs Node 22), so the tables are exactly the ones a Better Auth deployment has.
// SQLite is opened through better-sqlite3 in WAL mode with a busy timeout, so a Tessera process can
// share the file (the side-by-side test).
//
// Better Auth has no HS256 mode: for TESSERA_JWT_ALG=HS256 the jwt plugin's `jwt.sign` hook signs
// with BETTER_AUTH_SECRET and leaves out `aud`, which is what Tessera must do for python-jose's
// `jwt.decode(token, secret, algorithms=["HS256"])` (no audience argument) to accept the token;
// /jwks then answers 404.

import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import { appendFileSync } from "node:fs";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { bearer, genericOAuth, jwt, twoFactor } from "better-auth/plugins";

function usage(message) {
  console.error(`better-auth-server: ${message}\nusage: node better-auth-server.mjs serve --addr HOST:PORT`);
  process.exit(2);
}

const args = process.argv.slice(2);
if (args[0] !== "serve") usage("expected the `serve` command");
const addrIndex = args.indexOf("--addr");
const addr = addrIndex >= 0 ? args[addrIndex + 1] : undefined;
if (!addr) usage("missing --addr");
const colon = addr.lastIndexOf(":");
const host = addr.slice(0, colon);
const port = Number(addr.slice(colon + 1));
if (!host || !Number.isInteger(port)) usage(`bad --addr ${addr}`);

const secret = process.env.BETTER_AUTH_SECRET;
const baseURL = process.env.BETTER_AUTH_URL;
if (!secret || secret.length < 32) usage("BETTER_AUTH_SECRET must be set (>= 32 chars)");
if (!baseURL) usage("BETTER_AUTH_URL must be set");
const alg = process.env.TESSERA_JWT_ALG || "EdDSA";

/** Better Auth's `rateLimit` option for TESSERA_RATE_LIMIT; unset leaves Better Auth's default. */
function rateLimitOption(value) {
  if (value === undefined || value === "") return {};
  if (value === "on" || value === "off") return { rateLimit: { enabled: value === "on" } };
  usage(`TESSERA_RATE_LIMIT must be on or off, not ${value}`);
}

const base64url = (value) => Buffer.from(value).toString("base64url");
function signHs256(payload) {
  const { aud: _aud, ...claims } = payload;
  const input = `${base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${base64url(JSON.stringify(claims))}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

/** The jwt plugin's options for TESSERA_JWT_ALG. */
function jwtOptions(name) {
  const keyPairConfigs = {
    EdDSA: { alg: "EdDSA", crv: "Ed25519" },
    ES256: { alg: "ES256" },
    RS256: { alg: "RS256", modulusLength: 2048 },
  };
  if (name === "HS256") {
    return {
      jwt: { sign: async (payload) => signHs256(payload) },
      jwks: { remoteUrl: `${baseURL}/api/auth/jwks-unavailable-in-hs256-mode`, keyPairConfig: { alg: "EdDSA" } },
    };
  }
  if (!keyPairConfigs[name]) usage(`unsupported TESSERA_JWT_ALG ${name}`);
  return { jwks: { keyPairConfig: keyPairConfigs[name] } };
}

/** The database handle Better Auth's Kysely adapter takes as is, or the memory adapter. */
async function openDatabase(url) {
  if (!url) {
    return { database: memoryAdapter({ user: [], session: [], account: [], verification: [], jwks: [], passkey: [], twoFactor: [] }) };
  }
  if (url.startsWith("sqlite:")) {
    const path = url.replace(/^sqlite:(\/\/)?/, "").replace(/\?.*$/, "");
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma("busy_timeout = 5000");
    db.pragma("foreign_keys = ON");
    return { database: db, close: () => db.close() };
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const { default: pg } = await import("pg");
    const pool = new pg.Pool({ connectionString: url, max: 5 });
    return { database: pool, close: () => pool.end() };
  }
  usage(`unsupported DATABASE_URL ${url}`);
}

/** A Better Auth send callback appending `{ kind, to, url }` to BETTER_AUTH_MAIL_LOG, if set. */
function captureMail(kind) {
  const log = process.env.BETTER_AUTH_MAIL_LOG;
  return async ({ user, url }) => {
    if (log) appendFileSync(log, `${JSON.stringify({ kind, to: user.email, url })}\n`);
  };
}

/** A boolean setting as Tessera reads it (a flag's environment variable: `true` turns it on). */
function flag(name) {
  const value = (process.env[name] || "").toLowerCase();
  if (!["", "true", "false"].includes(value)) usage(`${name} must be true or false, not ${value}`);
  return value === "true";
}

/** Better Auth's `user` options for Tessera's change-email and delete-user settings. */
function userOptions() {
  const expiresIn = process.env.TESSERA_DELETE_TOKEN_EXPIRES_IN;
  return {
    changeEmail: {
      enabled: flag("TESSERA_CHANGE_EMAIL"),
      updateEmailWithoutVerification: flag("TESSERA_UPDATE_EMAIL_WITHOUT_VERIFICATION"),
      ...(flag("TESSERA_CHANGE_EMAIL_CONFIRMATION") && { sendChangeEmailConfirmation: captureMail("change-email-confirmation") }),
    },
    deleteUser: {
      enabled: flag("TESSERA_DELETE_USER"),
      ...(flag("TESSERA_DELETE_USER_VERIFICATION") && { sendDeleteAccountVerification: captureMail("delete-account") }),
      ...(expiresIn && { deleteTokenExpiresIn: Number(expiresIn) }),
    },
  };
}

/** The comma-separated list in an environment variable. */
const list = (value) => (value ?? "").split(/[,\s]+/).filter(Boolean);

/** genericOAuth's providers for TESSERA_OAUTH_PROVIDERS, configured as Tessera reads them. */
function genericProviders() {
  return list(process.env.TESSERA_OAUTH_PROVIDERS).map((providerId) => {
    const prefix = `TESSERA_OAUTH_${providerId.toUpperCase().replaceAll("-", "_")}`;
    const env = (suffix) => process.env[`${prefix}_${suffix}`];
    const issuer = env("ISSUER");
    if (!issuer || !env("CLIENT_ID") || !env("CLIENT_SECRET")) usage(`provider ${providerId} needs ${prefix}_ISSUER, _CLIENT_ID and _CLIENT_SECRET`);
    const scopes = env("SCOPES") === undefined ? ["email", "profile"] : list(env("SCOPES"));
    return {
      providerId,
      discoveryUrl: `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`,
      clientId: env("CLIENT_ID"),
      clientSecret: env("CLIENT_SECRET"),
      scopes,
    };
  });
}

const socialProviders =
  process.env.GOOGLE_CLIENT_ID && process.env.GOOGLE_CLIENT_SECRET
    ? {
        google: {
          clientId: process.env.GOOGLE_CLIENT_ID,
          clientSecret: process.env.GOOGLE_CLIENT_SECRET,
          scope: list(process.env.TESSERA_GOOGLE_SCOPES),
        },
      }
    : {};
const oauthProviders = genericProviders();
const plugins = [bearer(), jwt(jwtOptions(alg)), ...(oauthProviders.length ? [genericOAuth({ config: oauthProviders })] : [])];
// TESSERA_PASSKEY=true: the passkey plugin, configured as Tessera reads the same variables. Its
// origin is always set (Tessera checks one configured origin; without it the plugin would trust
// the request's Origin header).
if (process.env.TESSERA_PASSKEY === "true") {
  const { passkey } = await import("@better-auth/passkey");
  plugins.push(
    passkey({
      rpID: process.env.TESSERA_PASSKEY_RP_ID || undefined,
      rpName: process.env.TESSERA_PASSKEY_RP_NAME || undefined,
      origin: process.env.TESSERA_PASSKEY_ORIGIN || new URL(baseURL).origin,
    }),
  );
}

/** The twoFactor plugin's `otpOptions.sendOTP`: the code appended to BETTER_AUTH_MAIL_LOG. */
async function captureCode({ user, otp }) {
  const log = process.env.BETTER_AUTH_MAIL_LOG;
  if (log) appendFileSync(log, `${JSON.stringify({ kind: "two-factor-code", to: user.email, code: otp })}\n`);
}

if (["on", "true", "1"].includes(process.env.TESSERA_TWO_FACTOR ?? "")) {
  plugins.push(twoFactor({ issuer: process.env.TESSERA_TWO_FACTOR_ISSUER || undefined, otpOptions: { sendOTP: captureCode } }));
}
const rateLimit = rateLimitOption(process.env.TESSERA_RATE_LIMIT);
const db = await openDatabase(process.env.DATABASE_URL);
const auth = betterAuth({
  baseURL,
  // TESSERA_APP_NAME, as Tessera reads it (Better Auth's default otherwise).
  ...(process.env.TESSERA_APP_NAME ? { appName: process.env.TESSERA_APP_NAME } : {}),
  secret,
  database: db.database,
  // Tessera always delivers mail (SMTP, webhook or .eml files), so its peer must too for the
  // reset and verification endpoints to answer alike; BETTER_AUTH_MAIL_LOG (a file) captures each link as a JSON
  // line for the side-by-side tests, and without it the mail is dropped.
  emailAndPassword: { enabled: true, sendResetPassword: captureMail("reset-password") },
  emailVerification: { sendVerificationEmail: captureMail("verify-email") },
  user: userOptions(),
  socialProviders,
  account: {
    accountLinking: { trustedProviders: list(process.env.TESSERA_OAUTH_TRUSTED_PROVIDERS) },
    encryptOAuthTokens: process.env.TESSERA_ENCRYPT_OAUTH_TOKENS === "true",
  },
  plugins,
  ...rateLimit,
  telemetry: { enabled: false },
});
if (db.close) {
  const context = await auth.$context;
  await context.runMigrations();
}

const server = createServer(toNodeHandler(auth));
server.listen(port, host, () =>
  console.log(`Better Auth listening on http://${host}:${port} (${alg}, ${process.env.DATABASE_URL ? "database" : "memory"})`),
);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close(async () => {
      await db.close?.();
      process.exit(0);
    });
    server.closeAllConnections();
  });
}
