// Verifying a JWT with Tessera's guard (crates/tessera-guard, example `verify_token`), which
// fetches the JWKS from a URL like a resource server does.
//
//   TESSERA_GUARD_VERIFY  the verify_token binary (default: <repo>/target/debug/examples/verify_token;
//                         build it with `cargo build -p tessera-guard --example verify_token`)

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./servers.mjs";

const VERIFY = process.env.TESSERA_GUARD_VERIFY || join(REPO, "target/debug/examples/verify_token");

/** Resolves to the verified claims; rejects with the guard's answer. */
export function guardVerify(token, { jwksUrl, issuer, audience }) {
  if (!existsSync(VERIFY)) {
    return Promise.reject(new Error(`${VERIFY} missing: cargo build -p tessera-guard --example verify_token`));
  }
  return new Promise((ok, fail) => {
    const child = execFile(
      VERIFY,
      ["--jwks-url", jwksUrl, "--issuer", issuer, "--audience", audience],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error) fail(new Error(`guard rejected the token: ${stdout.trim()} ${stderr.trim()} (${error.message})`));
        else ok(JSON.parse(stdout));
      },
    );
    child.stdin.end(token);
  });
}

/** The decoded header and payload of a JWT (no verification). */
export function decodeJwt(token) {
  const [h, p] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(h, "base64url").toString("utf8")),
    payload: JSON.parse(Buffer.from(p, "base64url").toString("utf8")),
  };
}
