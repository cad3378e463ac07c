// A real `tessera serve` for the tests (its own auth server and tasks API), started the way
// scripts/test.sh's interop stage starts one: a free 127.0.0.1 port, a fresh data directory,
// BETTER_AUTH_SECRET and TESSERA_JWT_ALG in the environment; up once GET /api/auth/ok answers.
// Plus a browser stand-in: a fetch that keeps the session cookie and counts requests by path.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(fileURLToPath(import.meta.url), '../../../..');

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

export async function startTessera(settings = {}) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-client-test.'));
  const env = { ...process.env, ...settings };
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'BETTER_AUTH_SECRETS']) delete env[name];
  Object.assign(env, {
    BETTER_AUTH_SECRET: randomBytes(32).toString('hex'),
    BETTER_AUTH_URL: url,
    TESSERA_DATA_DIR: dataDir,
    TESSERA_JWT_ALG: settings.TESSERA_JWT_ALG ?? 'EdDSA',
    TESSERA_ENV: 'development',
  });
  const bin = process.env.TESSERA_BIN || join(REPO, 'target', 'debug', 'tessera');
  const child = spawn(bin, ['serve', '--addr', `127.0.0.1:${port}`], { env, cwd: dataDir, stdio: 'ignore' });
  let exited = null;
  child.on('exit', (code) => {
    exited = code;
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`tessera exited with ${exited}`);
    try {
      if ((await fetch(`${url}/api/auth/ok`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async close() {
      if (exited === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A browser stand-in: keeps the auth server's cookie, sends Origin, counts requests by path. */
export function browser(origin) {
  let cookie = '';
  const counts = new Map();
  async function browserFetch(input, init = {}) {
    const url = new URL(String(input));
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1);
    const headers = new Headers(init.headers || {});
    if (cookie && url.origin === origin) headers.set('cookie', cookie);
    if ((init.method ?? 'GET') !== 'GET') headers.set('origin', origin);
    const response = await fetch(url, { ...init, headers });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      if (pair.startsWith('better-auth.session_token=')) cookie = /max-age=0/i.test(line) ? '' : pair;
    }
    return response;
  }
  return {
    fetch: browserFetch,
    count: (path) => counts.get(path) ?? 0,
    async signUp() {
      const email = `js-${randomBytes(6).toString('hex')}@example.com`;
      const response = await browserFetch(`${origin}/api/auth/sign-up/email`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'JS', email, password: `pw-${randomBytes(9).toString('base64url')}` }),
      });
      if (!response.ok) throw new Error(`sign-up: HTTP ${response.status}`);
      return (await response.json()).user;
    },
    async signOut() {
      const response = await browserFetch(`${origin}/api/auth/sign-out`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      if (!response.ok) throw new Error(`sign-out: HTTP ${response.status}`);
    },
  };
}

/** Milliseconds that move only when told; timers fire as the clock passes them. */
export function manualClock() {
  let now = 0;
  let timers = [];
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const timer = { at: now + ms, fn };
      timers.push(timer);
      return timer;
    },
    clearTimeout(timer) {
      timers = timers.filter((t) => t !== timer);
    },
    advance(ms) {
      now += ms;
      const due = timers.filter((t) => t.at <= now);
      timers = timers.filter((t) => t.at > now);
      for (const t of due) t.fn();
    },
  };
}
