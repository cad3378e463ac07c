// createApiClient against a real `tessera serve` (auth server and tasks API in one process).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createApiClient, NetworkError, SessionEnded } from '../index.js';
import { browser, manualClock, startTessera } from './server.mjs';

const TOKEN = '/api/auth/token';

describe('against a default server', () => {
  let server;
  before(async () => {
    server = await startTessera();
  });
  after(async () => {
    await server.close();
  });

  function setUp(options = {}) {
    const b = browser(server.url);
    const client = createApiClient({ authURL: server.url, apiURL: server.url, fetch: b.fetch, ...options });
    return { b, client };
  }

  test('a call gets a JWT with the session cookie once and reuses it from memory', async () => {
    const { b, client } = setUp();
    const user = await b.signUp();
    for (let i = 0; i < 3; i++) {
      const response = await client.fetch(`/api/${user.id}/tasks`);
      assert.equal(response.status, 200);
    }
    assert.equal(b.count(TOKEN), 1);
    assert.equal(await client.userId(), user.id);
  });

  test('concurrent calls share one token request', async () => {
    const { b, client } = setUp();
    const user = await b.signUp();
    const responses = await Promise.all(Array.from({ length: 5 }, () => client.fetch(`/api/${user.id}/tasks`)));
    assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 200, 200]);
    assert.equal(b.count(TOKEN), 1);
  });

  test('the token is refreshed shortly before exp, in the background, once', async () => {
    const clock = manualClock();
    const { b, client } = setUp({ clock });
    const user = await b.signUp();
    await client.getToken();
    // 900 s tokens: refreshed 30 s (plus 1 s for iat's rounding) before exp.
    clock.advance(868_000);
    assert.equal((await client.fetch(`/api/${user.id}/tasks`)).status, 200);
    assert.equal(b.count(TOKEN), 1);
    clock.advance(2_000); // the refresh timer fires
    // (Minted within the same second, the new token can equal the old one byte for byte:
    // Ed25519 signatures are deterministic. The request count is what shows the refresh.)
    const second = await client.getToken();
    assert.equal(b.count(TOKEN), 2);
    assert.equal(await client.getToken(), second);
    assert.equal(b.count(TOKEN), 2);
  });

  test('when the session ends the token is dropped and the end reported once', async () => {
    let ends = 0;
    const { b, client } = setUp({ onSessionEnd: () => (ends += 1) });
    const user = await b.signUp();
    assert.equal((await client.fetch(`/api/${user.id}/tasks`)).status, 200);
    await b.signOut();
    // tessera serve's API refuses the signed-out session's JWT at once; the retry finds no session.
    await assert.rejects(client.fetch(`/api/${user.id}/tasks`), SessionEnded);
    await assert.rejects(client.fetch(`/api/${user.id}/tasks`), SessionEnded);
    assert.equal(ends, 1);
    await b.signUp();
    assert.equal((await client.fetch(`/api/${await client.userId()}/tasks`)).status, 200);
  });

  test('an API that cannot be reached is a NetworkError', async () => {
    const b = browser(server.url);
    await b.signUp();
    const client = createApiClient({ authURL: server.url, apiURL: 'http://127.0.0.1:9', fetch: b.fetch });
    await assert.rejects(client.fetch('/api/me'), NetworkError);
  });
});

describe('against a server whose JWTs live 3 s', () => {
  let server;
  before(async () => {
    server = await startTessera({ TESSERA_JWT_EXPIRES_IN: '3' });
  });
  after(async () => {
    await server.close();
  });

  test('a 401 from the API is retried once with a fresh token', async () => {
    const b = browser(server.url);
    // A frozen clock: the client believes its token fresh, the server's clock expires it.
    const client = createApiClient({ authURL: server.url, apiURL: server.url, fetch: b.fetch, clock: manualClock() });
    const user = await b.signUp();
    const tasks = `/api/${user.id}/tasks`;
    const held = await client.getToken();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const response = await fetch(server.url + tasks, { headers: { authorization: `Bearer ${held}` } });
      if (response.status === 401) break;
      assert.ok(Date.now() < deadline, 'the 3 s token never expired');
      await new Promise((r) => setTimeout(r, 100));
    }
    const before = b.count(tasks);
    const response = await client.fetch(tasks);
    assert.equal(response.status, 200);
    assert.equal(b.count(tasks) - before, 2);
    assert.equal(b.count(TOKEN), 2);
  });
});
