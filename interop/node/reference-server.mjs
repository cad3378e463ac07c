// A real Better Auth 1.7.25 server, configured the way Tessera behaves, taking the same command line
// and environment as `tessera serve`. It exists to check the interop scenarios themselves against the
// implementation Tessera copies (scripts/test.sh interop with TESSERA_INTEROP_SERVER=better-auth),
// and as the starting point for differential tests.
//
//   node reference-server.mjs serve --addr 127.0.0.1:PORT
//   env: BETTER_AUTH_SECRET, BETTER_AUTH_URL, BETTER_AUTH_TRUSTED_ORIGINS (read by Better Auth
//        itself), TESSERA_JWT_ALG = EdDSA (default) | ES256 | RS256 | HS256.
//
// Storage is in memory. Better Auth has no HS256 mode: for TESSERA_JWT_ALG=HS256 the jwt plugin's
// `jwt.sign` hook signs with BETTER_AUTH_SECRET and leaves out `aud`, which is what Tessera must do
// for python-jose's `jwt.decode(token, secret, algorithms=["HS256"])` (no audience argument) to
// accept the token; /jwks then answers 404.

import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { bearer, jwt } from "better-auth/plugins";

function usage(message) {
  console.error(`reference-server: ${message}\nusage: node reference-server.mjs serve --addr HOST:PORT`);
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

const base64url = (value) => Buffer.from(value).toString("base64url");
function signHs256(payload) {
  const { aud: _aud, ...claims } = payload;
  const input = `${base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${base64url(JSON.stringify(claims))}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

const keyPairConfigs = {
  EdDSA: { alg: "EdDSA", crv: "Ed25519" },
  ES256: { alg: "ES256" },
  RS256: { alg: "RS256", modulusLength: 2048 },
};
let jwtOptions;
if (alg === "HS256") {
  jwtOptions = {
    jwt: { sign: async (payload) => signHs256(payload) },
    jwks: { remoteUrl: `${baseURL}/api/auth/jwks-unavailable-in-hs256-mode`, keyPairConfig: { alg: "EdDSA" } },
  };
} else if (keyPairConfigs[alg]) {
  jwtOptions = { jwks: { keyPairConfig: keyPairConfigs[alg] } };
} else {
  usage(`unsupported TESSERA_JWT_ALG ${alg}`);
}

const auth = betterAuth({
  baseURL,
  secret,
  database: memoryAdapter({ user: [], session: [], account: [], verification: [], jwks: [] }),
  emailAndPassword: { enabled: true },
  plugins: [bearer(), jwt(jwtOptions)],
  telemetry: { enabled: false },
});

const server = createServer(toNodeHandler(auth));
server.listen(port, host, () => console.log(`reference Better Auth listening on http://${host}:${port} (${alg})`));
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
