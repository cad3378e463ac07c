// Starting and stopping the two servers under test: a real Better Auth 1.7.25
// (interop/better-auth-server.mjs) and Tessera (target/debug/tessera), with the same command line and
// environment, each on a free loopback port, stopped by PID.
//
// Environment read here:
//   TESSERA_BIN   the tessera binary (default: <repo>/target/debug/tessera)
//   COMPAT_WORK   directory for server logs and data (default: a fresh temp dir)

import { spawn } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, "../../..");
export const TESSERA_BIN = process.env.TESSERA_BIN || join(REPO, "target/debug/tessera");
const BETTER_AUTH_SERVER = join(HERE, "../../better-auth-server.mjs");
export const WORK = process.env.COMPAT_WORK || mkdtempSync(join(tmpdir(), "tessera-compat-"));
mkdirSync(WORK, { recursive: true });

/** The browser origin the clients claim to be; both servers trust it. */
export const FRONTEND_ORIGIN = "http://127.0.0.1:3001";
const START_TIMEOUT_MS = 30_000;
const running = new Set();

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

let serial = 0;

/**
 * Starts one server and waits for GET /api/auth/ok.
 *
 * kind: "better-auth" | "tessera". env: extra environment (DATABASE_URL, NODE_ENV,
 * TESSERA_PASSWORD_HASH, …) on top of the shared BETTER_AUTH_SECRET / BETTER_AUTH_URL /
 * BETTER_AUTH_TRUSTED_ORIGINS. port: listen there instead of a free port. baseUrl: the
 * BETTER_AUTH_URL to give it (default its own address). Returns {kind, url, origin, pid, log,
 * stop()}; `origin` is the base URL's origin (JWT iss/aud).
 */
export async function startServer(kind, { secret, env = {}, label = kind, port: fixedPort, baseUrl } = {}) {
  // A fixed port lets a server take over another's address (adoption keeps BETTER_AUTH_URL).
  const port = fixedPort ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  serial += 1;
  const dir = join(WORK, `${String(serial).padStart(2, "0")}-${label.replace(/[^a-z0-9-]+/gi, "_")}`);
  mkdirSync(dir, { recursive: true });
  const log = join(dir, "server.log");
  const fd = openSync(log, "a");
  const command =
    kind === "tessera"
      ? [TESSERA_BIN, ["serve", "--addr", `127.0.0.1:${port}`]]
      : kind === "better-auth"
        ? [process.execPath, [BETTER_AUTH_SERVER, "serve", "--addr", `127.0.0.1:${port}`]]
        : (() => {
            throw new Error(`unknown server kind ${kind}`);
          })();
  const childEnv = { ...process.env };
  for (const name of ["DATABASE_URL", "REDIS_URL", "BETTER_AUTH_SECRETS", "NODE_ENV", "TESSERA_PASSWORD_HASH"]) {
    delete childEnv[name];
  }
  Object.assign(childEnv, {
    BETTER_AUTH_SECRET: secret,
    BETTER_AUTH_URL: baseUrl ?? url,
    BETTER_AUTH_TRUSTED_ORIGINS: FRONTEND_ORIGIN,
    BETTER_AUTH_TELEMETRY: "0",
    TESSERA_DATA_DIR: dir,
    TESSERA_JWT_ALG: "EdDSA",
    TESSERA_ENV: "development",
    RUST_LOG: process.env.RUST_LOG || "warn",
    ...env,
  });
  const child = spawn(command[0], command[1], { cwd: dir, env: childEnv, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  let exited = null;
  const exitPromise = new Promise((done) =>
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      done(exited);
    }),
  );
  const server = {
    kind,
    label,
    url,
    port,
    origin: new URL(baseUrl ?? url).origin,
    pid: child.pid,
    log,
    dir,
    env: childEnv,
    async stop() {
      if (!running.has(server)) return;
      running.delete(server);
      if (exited === null) {
        process.kill(child.pid, "SIGTERM");
        const timer = setTimeout(() => exited === null && process.kill(child.pid, "SIGKILL"), 5_000);
        await exitPromise;
        clearTimeout(timer);
      }
    },
    tail(lines = 40) {
      try {
        return readFileSync(log, "utf8").split("\n").slice(-lines).join("\n");
      } catch {
        return "";
      }
    },
  };
  running.add(server);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== null) {
      running.delete(server);
      throw new Error(`${label} exited before answering /api/auth/ok (${JSON.stringify(exited)}):\n${server.tail()}`);
    }
    try {
      const response = await fetch(`${url}/api/auth/ok`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return server;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  await server.stop();
  throw new Error(`${label} did not answer /api/auth/ok within ${START_TIMEOUT_MS} ms:\n${server.tail()}`);
}

/** Removes the work directory (logs, SQLite files) unless it was given by COMPAT_WORK. */
export function removeWork() {
  if (!process.env.COMPAT_WORK) rmSync(WORK, { recursive: true, force: true });
}

/** Stops every server this process started (each by its own PID). */
export async function stopAll() {
  await Promise.all([...running].map((s) => s.stop()));
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, async () => {
    await stopAll();
    process.exit(130);
  });
}

/** A random secret of 64 hex characters. */
export function randomSecret() {
  return [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");
}
