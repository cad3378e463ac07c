// A real Better Auth 1.7.25 server for the compatibility tests, taking the same command line and
// environment as `tessera serve` (like interop/node/reference-server.mjs, plus real databases).
//
//   node better-auth-server.mjs serve --addr 127.0.0.1:PORT
//   env: BETTER_AUTH_SECRET, BETTER_AUTH_URL, BETTER_AUTH_TRUSTED_ORIGINS (read by Better Auth
//        itself); TESSERA_JWT_ALG = EdDSA (default) | ES256 | RS256;
//        DATABASE_URL = unset (memory adapter) | sqlite:///abs/path.db | postgres://…;
//        NODE_ENV=production turns Better Auth's rate limiter on (its only switch for it).
//
// With a database it first runs Better Auth's own migrations (`(await auth.$context).runMigrations()`;
// the `auth` CLI needs Node 22), so the tables are exactly the ones a Better Auth deployment has.
// SQLite is opened through better-sqlite3 in WAL mode with a busy timeout, so a Tessera process can
// share the file (the side-by-side test).

import { createServer } from "node:http";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { bearer, jwt } from "better-auth/plugins";

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
const keyPairConfigs = {
  EdDSA: { alg: "EdDSA", crv: "Ed25519" },
  ES256: { alg: "ES256" },
  RS256: { alg: "RS256", modulusLength: 2048 },
};
if (!keyPairConfigs[alg]) usage(`unsupported TESSERA_JWT_ALG ${alg}`);

/** The database handle Better Auth's Kysely adapter takes as is, or the memory adapter. */
async function openDatabase(url) {
  if (!url) {
    return { database: memoryAdapter({ user: [], session: [], account: [], verification: [], jwks: [] }) };
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

const db = await openDatabase(process.env.DATABASE_URL);
const auth = betterAuth({
  baseURL,
  secret,
  database: db.database,
  emailAndPassword: { enabled: true },
  plugins: [bearer(), jwt({ jwks: { keyPairConfig: keyPairConfigs[alg] } })],
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
