// Benchmark peer: a real Better Auth 1.7.25 server with the jwt and bearer plugins on SQLite
// (better-sqlite3, WAL), taking the same command line and environment as `tessera serve`.
// Everything else is Better Auth's default: EdDSA JWTs, scrypt passwords (N=2^14, r=16, p=1),
// sessions in the database, no cookie cache. Rate limiting is off, as TESSERA_RATE_LIMIT=off is
// for Tessera, so the load generator measures the endpoints rather than the limiter.
//
//   node server.mjs serve --addr 127.0.0.1:PORT
//   env: BETTER_AUTH_SECRET, BETTER_AUTH_URL, TESSERA_DATA_DIR (the SQLite file goes there)

import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { toNodeHandler } from "better-auth/node";
import { bearer, jwt } from "better-auth/plugins";

function usage(message) {
  console.error(`better-auth peer: ${message}\nusage: node server.mjs serve --addr HOST:PORT`);
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
const dataDir = process.env.TESSERA_DATA_DIR || ".";
mkdirSync(dataDir, { recursive: true });

const database = new Database(join(dataDir, "better-auth.db"));
database.pragma("journal_mode = WAL");

const auth = betterAuth({
  baseURL,
  secret,
  database,
  emailAndPassword: { enabled: true },
  plugins: [bearer(), jwt()],
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
});

await (await auth.$context).runMigrations();

const server = createServer(toNodeHandler(auth));
server.listen(port, host, () => console.log(`Better Auth peer listening on http://${host}:${port}`));
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
