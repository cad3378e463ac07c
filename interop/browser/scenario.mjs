// Browser tests of Tessera's web app (issue 4, acceptance items 1–7), in headless Debian
// chromium driven by playwright-core (no browser download).
//
//   TESSERA_URL            a running `tessera serve`                                   required
//   TESSERA_SHORT_JWT_URL  one started with TESSERA_JWT_EXPIRES_IN=3, for item 5 (default:
//                          TESSERA_URL, which must then be such a server)
//   SCENARIO_GROUPS        run only these groups, e.g. `5` or `1,2,3,4,6,7,extra` (default: all;
//                          `passkey` needs a server with TESSERA_PASSKEY=true opened at localhost)
//   MAILDIR                the Maildir of the SMTP server the Tessera server delivers to, for
//                          the mail group (scripts/test.sh: aiosmtpd's, TEST_MAILDIR)
//   CHROMIUM               the browser binary (default /usr/bin/chromium)
//   SCREENSHOT_DIR         where the PNGs go (default <repo>/target/screenshots)
//
// scripts/test.sh runs it twice, one server at a time: items 1–4, 6, 7 and the extras against a
// server with the default JWT lifetime, then item 5 against one whose JWTs live 3 s.
//
// Every step is asserted; a failed step skips the rest of its group. A screenshot of every page
// is saved at 1280 px and 360 px wide, and each of those views is checked by axe-core against
// the WCAG 2.1 A and AA rules. The last line is "N passed, M failed".

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { waitForMail } from '../mail.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const BASE = (process.env.TESSERA_URL || '').replace(/\/$/, '');
const SHORT = (process.env.TESSERA_SHORT_JWT_URL || BASE).replace(/\/$/, '');
const ONLY = (process.env.SCENARIO_GROUPS || '').split(',').map((g) => g.trim()).filter(Boolean);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const MAILDIR = process.env.MAILDIR || '';
const SHOTS = process.env.SCREENSHOT_DIR || path.join(ROOT, 'target', 'screenshots');
const STEP_TIMEOUT = 15_000;
// axe-core's browser build, run in each page through CDP evaluation: that is not subject to the
// page's CSP, so the contexts keep enforcing it (no bypassCSP) and the CSP checks stay real.
const AXE_SOURCE = fs.readFileSync(path.join(HERE, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

if (!BASE) {
  console.error('set TESSERA_URL to a running `tessera serve` (and TESSERA_SHORT_JWT_URL, see above)');
  process.exit(2);
}
fs.mkdirSync(SHOTS, { recursive: true });
for (const file of fs.readdirSync(SHOTS)) {
  if (file.startsWith('FAILED-')) fs.rmSync(path.join(SHOTS, file));
}

const RUN = Date.now().toString(36);
const PASSWORD = `tessera horse battery ${RUN}`;
const email = (who) => `${who}-${RUN}@example.com`;

// ---------------------------------------------------------------------------------------------
// Step runner

let passed = 0;
let failed = 0;
const failures = [];

async function group(name, steps) {
  const id = name.split('.')[0].replace(/:.*/, '');
  if (ONLY.length && !ONLY.includes(id)) return;
  console.log(`\n# ${name}`);
  let skipping = false;
  for (const [label, fn] of steps) {
    if (skipping) {
      failed += 1;
      console.log(`not ok - ${label} (skipped after an earlier failure)`);
      continue;
    }
    try {
      await fn();
      passed += 1;
      console.log(`ok - ${label}`);
    } catch (err) {
      failed += 1;
      skipping = true;
      failures.push(`${name} / ${label}`);
      console.log(`not ok - ${label}\n    ${String(err && err.stack ? err.stack : err).split('\n').slice(0, 6).join('\n    ')}`);
      for (const page of openPages) {
        await page.screenshot({ path: path.join(SHOTS, `FAILED-${slug(label)}-${openPages.indexOf(page)}.png`), fullPage: true }).catch(() => {});
      }
    }
  }
}

const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);

// ---------------------------------------------------------------------------------------------
// Browser plumbing

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  // playwright-core gives every launch a fresh temporary --user-data-dir.
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

const openPages = [];
/** Per page: console errors and uncaught exceptions (a CSP violation shows up here). */
const problems = new WeakMap();

async function newPage(base = BASE) {
  const context = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(STEP_TIMEOUT);
  const page = await context.newPage();
  const list = [];
  problems.set(page, list);
  page.on('pageerror', (err) => list.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    // A 4xx answer is logged by Chromium as "Failed to load resource"; the app expects those.
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) list.push(`console: ${msg.text()}`);
  });
  openPages.push(page);
  return page;
}

function assertNoProblems(page) {
  assert.deepEqual(problems.get(page), [], 'console errors, CSP violations or uncaught exceptions');
}

const shotNames = new Set();
/** Fails with each axe-core WCAG 2.1 A/AA violation of the page as it is now (rule, impact, targets). */
async function assertAccessible(page, what) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async (tags) => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => `${n.target.join(' ')}${n.failureSummary ? ` (${n.failureSummary.replace(/\s+/g, ' ').trim()})` : ''}`),
    }));
  }, AXE_TAGS);
  const lines = violations.map((v) => `${v.id} [${v.impact}] ${v.help}:\n        ${v.nodes.join('\n        ')}`);
  assert.ok(violations.length === 0, `axe: ${what} has ${violations.length} WCAG 2.1 AA violation(s):\n      ${lines.join('\n      ')}`);
}

/**
 * Saves the page at 1280 px and 360 px wide (target/screenshots/<name>-<width>.png) and checks
 * each width with axe-core.
 */
async function shoot(page, name) {
  assert.ok(!shotNames.has(name), `screenshot name ${name} used twice`);
  shotNames.add(name);
  const original = page.viewportSize();
  for (const width of [1280, 360]) {
    await page.setViewportSize({ width, height: 800 });
    // The layout must fit: no horizontal scrolling at either width.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${name} at ${width}px scrolls sideways by ${overflow}px`);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${width}.png`), fullPage: true });
    await assertAccessible(page, `${name} at ${width}px`);
  }
  await page.setViewportSize(original);
}

const pathOf = (page) => {
  const url = new URL(page.url());
  return url.pathname + url.search;
};

async function expectPath(page, expected) {
  await page.waitForURL((url) => url.pathname + url.search === expected, { timeout: STEP_TIMEOUT }).catch(() => {});
  assert.equal(pathOf(page), expected);
}

async function signUp(page, { name, address, password = PASSWORD }) {
  await page.goto('/sign-up');
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Email').fill(address);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
}

async function signIn(page, address, password = PASSWORD, { remember = true } = {}) {
  await page.getByLabel('Email').fill(address);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Remember me').setChecked(remember);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

const taskItem = (page, title) => page.locator('#task-list > li').filter({ has: page.locator('.task-title', { hasText: new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) });

async function taskTitles(page) {
  return page.locator('#task-list .task-title').allTextContents();
}

async function addTask(page, title, description, { viaEnter = false } = {}) {
  await page.getByLabel('New task').fill(title);
  if (description) await page.getByLabel('Description (optional)').fill(description);
  const created = page.waitForResponse((r) => r.request().method() === 'POST' && /\/api\/[^/]+\/tasks$/.test(new URL(r.url()).pathname));
  if (viaEnter) await page.getByLabel('New task').press('Enter');
  else await page.getByRole('button', { name: 'Add task' }).click();
  const response = await created;
  assert.equal(response.status(), 201, `POST tasks answered ${response.status()}`);
  await taskItem(page, title).waitFor();
}

/** Waits until the task list has finished (re)loading. */
async function listSettled(page) {
  await page.locator('#loading').waitFor({ state: 'hidden' });
  await page.waitForFunction(() => !document.getElementById('task-list').hasAttribute('aria-busy'));
}

/** Clicks a filter and waits for its list to arrive and render. */
async function filter(page, label, status) {
  const listed = page.waitForResponse((r) => r.request().method() === 'GET' && new URL(r.url()).searchParams.get('status') === status);
  await page.getByRole('button', { name: label, exact: true }).click();
  assert.equal((await listed).status(), 200);
  await listSettled(page);
}

async function pageError(page) {
  return (await page.locator('#page-error').textContent()) || '';
}

/** The user's id and a JWT, fetched the way any script on the page could (cookie session). */
async function whoAmI(page) {
  return page.evaluate(async () => {
    const session = await (await fetch('/api/auth/get-session')).json();
    const { token } = await (await fetch('/api/auth/token')).json();
    return { id: session.user.id, token };
  });
}

// ---------------------------------------------------------------------------------------------
// 1. Sign up, add three tasks, complete one, edit one, delete one, reload: the state persists.

const alice = { name: 'Alice Example', address: email('alice') };
const aliceTasks = ['Buy oat milk', 'Write the quarterly report', 'Call the plumber'];
let pageA;

await group('1. A new user signs up, manages tasks, and the state survives a reload', [
  ['the sign-up page renders with labelled fields', async () => {
    pageA = await newPage();
    await pageA.goto('/sign-up');
    await pageA.getByRole('heading', { name: 'Create an account' }).waitFor();
    await shoot(pageA, 'sign-up');
    // Keyboard: the name field has focus, Tab walks name → email → password.
    assert.equal(await pageA.evaluate(() => document.activeElement.id), 'name');
    await pageA.keyboard.press('Tab');
    assert.equal(await pageA.evaluate(() => document.activeElement.id), 'email');
    await pageA.keyboard.press('Tab');
    assert.equal(await pageA.evaluate(() => document.activeElement.id), 'password');
  }],
  ['a new user signs up and lands on /tasks with their email in the header', async () => {
    await signUp(pageA, alice);
    await expectPath(pageA, '/tasks');
    await pageA.locator('#user-email', { hasText: alice.address }).waitFor();
  }],
  ['an empty list shows the empty state', async () => {
    await pageA.locator('#empty', { hasText: 'No tasks yet' }).waitFor();
    assert.equal(await pageA.locator('#task-list > li').count(), 0);
    await shoot(pageA, 'tasks-empty');
  }],
  ['adds three tasks (one with the keyboard only)', async () => {
    await addTask(pageA, aliceTasks[0], '2 litres, unsweetened');
    await addTask(pageA, aliceTasks[1], null, { viaEnter: true });
    await addTask(pageA, aliceTasks[2], 'About the leaking kitchen tap');
    assert.deepEqual((await taskTitles(pageA)).sort(), [...aliceTasks].sort());
    assert.equal(await pageA.locator('#empty').isVisible(), false);
    assert.equal(await pageError(pageA), '');
  }],
  ['completes one', async () => {
    const item = taskItem(pageA, aliceTasks[0]);
    const toggled = pageA.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().endsWith('/complete'));
    await item.getByRole('checkbox').check();
    assert.equal((await toggled).status(), 200);
    await pageA.locator('#task-list > li.done', { hasText: aliceTasks[0] }).waitFor();
    assert.equal(await taskItem(pageA, aliceTasks[0]).getByRole('checkbox').isChecked(), true);
  }],
  ['edits one in place', async () => {
    await taskItem(pageA, aliceTasks[1]).getByRole('button', { name: /^Edit/ }).click();
    const title = pageA.locator('#task-list form input[type="text"]');
    await title.waitFor();
    assert.equal(await pageA.evaluate(() => document.activeElement.tagName), 'INPUT');
    await title.fill('Write the Q3 report');
    await pageA.locator('#task-list form textarea').fill('Numbers from finance first');
    await shoot(pageA, 'tasks-editing');
    const saved = pageA.waitForResponse((r) => r.request().method() === 'PUT');
    await pageA.locator('#task-list form').getByRole('button', { name: 'Save' }).click();
    assert.equal((await saved).status(), 200);
    await taskItem(pageA, 'Write the Q3 report').waitFor();
    assert.equal(await taskItem(pageA, aliceTasks[1]).count(), 0);
  }],
  ['deletes one after a confirmation', async () => {
    await taskItem(pageA, aliceTasks[2]).getByRole('button', { name: /^Delete/ }).click();
    const confirm = taskItem(pageA, aliceTasks[2]).getByRole('group');
    await confirm.getByText('Delete this task?').waitFor();
    await shoot(pageA, 'tasks-confirm-delete');
    // Escape cancels; nothing is deleted.
    await pageA.keyboard.press('Escape');
    await taskItem(pageA, aliceTasks[2]).getByRole('button', { name: /^Delete/ }).waitFor();
    await taskItem(pageA, aliceTasks[2]).getByRole('button', { name: /^Delete/ }).click();
    const deleted = pageA.waitForResponse((r) => r.request().method() === 'DELETE');
    await taskItem(pageA, aliceTasks[2]).getByRole('button', { name: 'Delete', exact: true }).click();
    assert.equal((await deleted).status(), 204);
    await taskItem(pageA, aliceTasks[2]).waitFor({ state: 'detached' });
  }],
  ['after a reload the state persists', async () => {
    await pageA.reload();
    await taskItem(pageA, 'Write the Q3 report').waitFor();
    assert.deepEqual((await taskTitles(pageA)).sort(), [aliceTasks[0], 'Write the Q3 report'].sort());
    assert.equal(await taskItem(pageA, aliceTasks[0]).getByRole('checkbox').isChecked(), true);
    assert.equal(await taskItem(pageA, 'Write the Q3 report').getByRole('checkbox').isChecked(), false);
    await taskItem(pageA, 'Write the Q3 report').getByText('Numbers from finance first').waitFor();
    await shoot(pageA, 'tasks');
  }],
  ['the filters show pending, completed and all tasks', async () => {
    await filter(pageA, 'Pending', 'pending');
    await expectPath(pageA, '/tasks?status=pending');
    assert.deepEqual(await taskTitles(pageA), ['Write the Q3 report']);
    await filter(pageA, 'Completed', 'completed');
    await expectPath(pageA, '/tasks?status=completed');
    assert.deepEqual(await taskTitles(pageA), [aliceTasks[0]]);
    assert.equal(await pageA.getByRole('button', { name: 'Completed' }).getAttribute('aria-pressed'), 'true');
    await shoot(pageA, 'tasks-filter-completed');
    // Un-completing under the "Completed" filter empties it: the filtered empty state shows.
    const toggled = pageA.waitForResponse((r) => r.request().method() === 'PATCH');
    await taskItem(pageA, aliceTasks[0]).getByRole('checkbox').click();
    assert.equal((await toggled).status(), 200);
    await pageA.locator('#empty', { hasText: 'Nothing completed yet' }).waitFor();
    assert.equal(await pageA.locator('#task-list > li').count(), 0);
    // Put it back, then show all.
    await filter(pageA, 'All', 'all');
    await expectPath(pageA, '/tasks');
    await taskItem(pageA, aliceTasks[0]).getByRole('checkbox').check();
    await pageA.locator('#task-list > li.done', { hasText: aliceTasks[0] }).waitFor();
    assert.equal((await taskTitles(pageA)).length, 2);
    assertNoProblems(pageA);
  }],
]);

// ---------------------------------------------------------------------------------------------
// 2. A second user in a separate browser context sees none of the first user's tasks.

const bob = { name: 'Bob Example', address: email('bob') };
let pageB;

await group("2. A second user in another browser context sees none of the first user's tasks", [
  ['a second user signs up in a separate context and lands on an empty /tasks', async () => {
    pageB = await newPage();
    await signUp(pageB, bob);
    await expectPath(pageB, '/tasks');
    await pageB.locator('#user-email', { hasText: bob.address }).waitFor();
    await pageB.locator('#empty', { hasText: 'No tasks yet' }).waitFor();
  }],
  ["none of the first user's tasks is listed or anywhere on the page", async () => {
    assert.equal(await pageB.locator('#task-list > li').count(), 0);
    const text = await pageB.locator('body').innerText();
    for (const title of [aliceTasks[0], 'Write the Q3 report', alice.address]) {
      assert.ok(!text.includes(title), `user 2 sees "${title}"`);
    }
  }],
  ["the second user's own task does not show up for the first user", async () => {
    await addTask(pageB, "Bob's private errand");
    await pageA.reload();
    await taskItem(pageA, aliceTasks[0]).waitFor();
    assert.ok(!(await taskTitles(pageA)).includes("Bob's private errand"));
  }],
  ["the second user's token cannot read the first user's tasks (403)", async () => {
    const aliceId = (await whoAmI(pageA)).id;
    const status = await pageB.evaluate(async (id) => {
      const { token } = await (await fetch('/api/auth/token')).json();
      const r = await fetch(`/api/${encodeURIComponent(id)}/tasks`, { headers: { Authorization: `Bearer ${token}` } });
      return r.status;
    }, aliceId);
    assert.equal(status, 403);
    assertNoProblems(pageB);
  }],
]);

// ---------------------------------------------------------------------------------------------
// 3. Opening /tasks signed out redirects to sign-in and returns to /tasks after signing in.

let pageC;

await group('3. /tasks signed out redirects to sign-in and returns there after signing in', [
  ['opening /tasks signed out lands on /sign-in?next=/tasks', async () => {
    pageC = await newPage();
    const response = await pageC.goto('/tasks');
    await expectPath(pageC, '/sign-in?next=/tasks');
    assert.equal(response.status(), 200);
    await pageC.getByRole('heading', { name: 'Sign in' }).waitFor();
    // Nothing of the tasks page was served.
    assert.equal(await pageC.locator('#task-list').count(), 0);
  }],
  ['a wrong password is reported next to the password field', async () => {
    await signIn(pageC, alice.address, 'not the password');
    await pageC.locator('#password-error', { hasText: 'Incorrect email or password.' }).waitFor();
    assert.equal(await pageC.getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true');
    assert.equal(await pageC.evaluate(() => document.activeElement.id), 'password');
    await expectPath(pageC, '/sign-in?next=/tasks');
    await shoot(pageC, 'sign-in-error');
  }],
  ['signing in (without "remember me") returns to /tasks', async () => {
    await signIn(pageC, alice.address, PASSWORD, { remember: false });
    await expectPath(pageC, '/tasks');
    await taskItem(pageC, aliceTasks[0]).waitFor();
  }],
  ['a signed-in user opening /sign-in or /sign-up goes to /tasks', async () => {
    await pageC.goto('/sign-in');
    await expectPath(pageC, '/tasks');
    await pageC.goto('/sign-up');
    await expectPath(pageC, '/tasks');
    await pageC.goto('/sign-in?next=/account');
    await expectPath(pageC, '/account');
    await pageC.goto('/sign-in?next=//evil.example/');
    await expectPath(pageC, '/tasks');
  }],
  ['an off-site next is ignored after signing in', async () => {
    const page = await newPage();
    for (const bad of ['//evil.example/', 'https://evil.example/', '/\\evil.example', '/%2F%2Fevil.example']) {
      await page.context().clearCookies();
      await page.goto(`/sign-in?next=${encodeURIComponent(bad)}`);
      await signIn(page, bob.address);
      await expectPath(page, '/tasks');
      await listSettled(page); // done with its requests before the cookies go
    }
    await page.context().close();
    openPages.splice(openPages.indexOf(page), 1);
    assertNoProblems(pageC);
  }],
]);

// ---------------------------------------------------------------------------------------------
// 4. After sign-out, /tasks redirects to sign-in and the back button shows no task data.

await group('4. After sign-out /tasks redirects to sign-in and Back shows no task data', [
  ['signing out from the header lands on /sign-in', async () => {
    await pageA.goto('/tasks');
    await taskItem(pageA, aliceTasks[0]).waitFor();
    await pageA.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expectPath(pageA, '/sign-in?reason=signed-out');
    await pageA.locator('#notice', { hasText: 'You have signed out.' }).waitFor();
    await shoot(pageA, 'sign-in-signed-out');
    const cookies = await pageA.context().cookies();
    assert.ok(!cookies.some((c) => c.name.endsWith('session_token')), 'the session cookie is gone');
  }],
  ['/tasks now redirects to /sign-in?next=/tasks', async () => {
    await pageA.goto('/tasks');
    await expectPath(pageA, '/sign-in?next=/tasks');
  }],
  ['the back button shows no task data', async () => {
    const secrets = [aliceTasks[0], 'Write the Q3 report', 'Numbers from finance first', alice.address];
    for (let i = 0; i < 2; i += 1) {
      await pageA.goBack();
      await pageA.waitForLoadState('load');
      const url = new URL(pageA.url());
      assert.equal(url.pathname, '/sign-in', `Back #${i + 1} showed ${url.pathname}`);
      const html = await pageA.content();
      for (const secret of secrets) assert.ok(!html.includes(secret), `Back #${i + 1} shows "${secret}"`);
    }
    assert.equal(pathOf(pageA), '/sign-in?next=/tasks');
    assertNoProblems(pageA);
  }],
]);

// ---------------------------------------------------------------------------------------------
// 5. With a JWT lifetime of 3 s, a user keeps working across several expiries without an error.

let pageE;

await group('5. With TESSERA_JWT_EXPIRES_IN=3 a user keeps working across several expiries', [
  ['a user signs up on the server whose JWTs live 3 s', async () => {
    pageE = await newPage(SHORT);
    await signUp(pageE, { name: 'Erin Example', address: email('erin') });
    await expectPath(pageE, '/tasks');
    await pageE.locator('#empty').waitFor();
    const { token } = await whoAmI(pageE);
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    assert.equal(payload.exp - payload.iat, 3, 'TESSERA_JWT_EXPIRES_IN=3 is in effect');
  }],
  ['the token is refreshed ahead of expiry while the user keeps working, with no error', async () => {
    const tokenRequests = [];
    const apiStatuses = [];
    pageE.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/auth/token') tokenRequests.push(Date.now());
    });
    pageE.on('response', (r) => {
      if (/^\/api\/[^/]+\/tasks/.test(new URL(r.url()).pathname) && !new URL(r.url()).pathname.startsWith('/api/auth/')) {
        apiStatuses.push(r.status());
      }
    });
    const started = Date.now();
    let n = 0;
    // Work until at least four refreshes have happened (each spans an expiry), bounded at 40 s.
    while (tokenRequests.length < 4) {
      assert.ok(Date.now() - started < 40_000, `only ${tokenRequests.length} token refreshes in 40 s`);
      n += 1;
      await addTask(pageE, `Expiry task ${n}`);
      if (n % 2 === 0) await taskItem(pageE, `Expiry task ${n - 1}`).getByRole('checkbox').check();
      const before = tokenRequests.length;
      await pageE.waitForRequest((r) => new URL(r.url()).pathname === '/api/auth/token', { timeout: 10_000 });
      assert.ok(tokenRequests.length > before);
    }
    // Keep going once more after the last refresh, then reload: everything is there.
    n += 1;
    await addTask(pageE, `Expiry task ${n}`);
    await pageE.reload();
    await taskItem(pageE, `Expiry task ${n}`).waitFor();
    assert.equal((await taskTitles(pageE)).length, n);
    assert.equal(await pageError(pageE), '');
    assert.equal(new URL(pageE.url()).pathname, '/tasks');
    assert.ok(apiStatuses.every((s) => s < 400), `tasks API answers: ${apiStatuses.join(', ')}`);
    // Refreshes came ahead of expiry: never more than the 3 s lifetime apart.
    const gaps = tokenRequests.slice(1).map((t, i) => t - tokenRequests[i]);
    assert.ok(gaps.every((g) => g < 3000), `gaps between token requests: ${gaps.join(', ')} ms`);
    await shoot(pageE, 'tasks-short-jwt');
  }],
  ['a 401 from the API is retried once with a fresh token, invisibly', async () => {
    let faked = 0;
    await pageE.route(/\/api\/[^/]+\/tasks\?/, async (route) => {
      if (faked === 0 && !route.request().url().includes('/api/auth/')) {
        faked += 1;
        await route.fulfill({ status: 401, contentType: 'application/json', headers: { 'WWW-Authenticate': 'Bearer' }, body: JSON.stringify({ detail: 'Invalid or expired token' }) });
      } else {
        await route.continue();
      }
    });
    const tokenCall = pageE.waitForRequest((r) => new URL(r.url()).pathname === '/api/auth/token');
    const retried = pageE.waitForResponse((r) => /\/tasks\?status=pending/.test(r.url()) && r.status() === 200);
    await pageE.getByRole('button', { name: 'Pending', exact: true }).click();
    await tokenCall;
    await retried;
    await listSettled(pageE);
    await pageE.locator('#task-list > li').first().waitFor();
    assert.equal(faked, 1);
    assert.equal(await pageError(pageE), '');
    assert.equal(new URL(pageE.url()).pathname, '/tasks');
    await pageE.unroute(/\/api\/[^/]+\/tasks\?/);
    assertNoProblems(pageE);
  }],
  ["the page's JWT handling is clients/js itself, served by the binary", async () => {
    const served = await pageE.request.get('/assets/tessera-client.js');
    assert.equal(served.status(), 200);
    assert.match(served.headers()['content-type'], /^text\/javascript/);
    assert.equal(await served.text(), fs.readFileSync(path.join(ROOT, 'clients', 'js', 'index.js'), 'utf8'));
    // And the page loads it: a reload fetches the module (200, or 304 from its ETag).
    const loaded = pageE.waitForResponse((r) => new URL(r.url()).pathname === '/assets/tessera-client.js');
    await pageE.reload();
    assert.ok([200, 304].includes((await loaded).status()));
    await listSettled(pageE);
  }],
  ['tessera-client refreshes the JWT before its exp while the page sits idle', async () => {
    // No user action from here on: every token request is the module's own timer. Each one
    // must go out before the token it replaces expires.
    let current = null; // exp (ms) of the token last received
    const early = [];
    const onRequest = (r) => {
      if (new URL(r.url()).pathname === '/api/auth/token' && current !== null) early.push(current - Date.now());
    };
    const onResponse = async (r) => {
      if (new URL(r.url()).pathname !== '/api/auth/token' || r.status() !== 200) return;
      const { token } = await r.json().catch(() => ({}));
      if (token) current = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).exp * 1000;
    };
    pageE.on('request', onRequest);
    pageE.on('response', onResponse);
    try {
      for (let i = 0; i < 3; i += 1) {
        await pageE.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/token' && r.status() === 200, { timeout: 10_000 });
      }
    } finally {
      pageE.off('request', onRequest);
      pageE.off('response', onResponse);
    }
    assert.ok(early.length >= 2, `background refreshes seen: ${early.length}`);
    assert.ok(early.every((ms) => ms > 0), `ms left before exp at each refresh: ${early.join(', ')}`);
    assert.equal(new URL(pageE.url()).pathname, '/tasks');
    assert.equal(await pageError(pageE), '');
  }],
  ["signed out elsewhere: tessera-client reports the session's end and the page goes to sign-in by itself", async () => {
    // The same user in another context ends every session of theirs, this page's included.
    const other = await newPage(SHORT);
    await other.goto('/sign-in');
    await signIn(other, email('erin'));
    await expectPath(other, '/tasks');
    const refused = pageE.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/token' && r.status() === 401, { timeout: 10_000 });
    const revoked = await other.evaluate(async () => (await fetch('/api/auth/revoke-sessions', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}',
    })).status);
    assert.equal(revoked, 200);
    // pageE does nothing: its next background refresh is refused, the module calls
    // onSessionEnd, and the app clears the page and goes to sign-in.
    await refused;
    await pageE.waitForURL((url) => url.pathname === '/sign-in');
    const back = new URL(pageE.url()).searchParams;
    assert.match(back.get('next'), /^\/tasks/);
    assert.equal(back.get('reason'), 'expired');
    await pageE.locator('#notice', { hasText: 'Your session has ended' }).waitFor();
    assert.ok(!(await pageE.content()).includes('Expiry task'), 'task data left on the page');
    await other.context().close();
    openPages.splice(openPages.indexOf(other), 1);
    assertNoProblems(pageE);
  }],
]);

// ---------------------------------------------------------------------------------------------
// 6. No token in localStorage, sessionStorage or document.cookie; the session cookie is
//    HttpOnly and SameSite=Lax.

await group('6. No token in script-readable storage; the session cookie is HttpOnly, SameSite=Lax', [
  ['localStorage, sessionStorage and document.cookie hold nothing token-like on every page', async () => {
    for (const url of ['/tasks', '/account']) {
      await pageC.goto(url);
      await pageC.locator('#user-email', { hasText: alice.address }).waitFor();
      // Let the page fetch its JWT first.
      if (url === '/tasks') await taskItem(pageC, aliceTasks[0]).waitFor();
      const storage = await pageC.evaluate(() => ({
        local: Object.fromEntries(Object.entries(localStorage)),
        session: Object.fromEntries(Object.entries(sessionStorage)),
        cookie: document.cookie,
      }));
      assert.deepEqual(storage.local, {}, `localStorage on ${url}`);
      assert.deepEqual(storage.session, {}, `sessionStorage on ${url}`);
      assert.equal(storage.cookie, '', `document.cookie on ${url}`);
    }
  }],
  ['the session cookie is HttpOnly, SameSite=Lax, and ("remember me" off) ends with the browser', async () => {
    const cookies = await pageC.context().cookies();
    const session = cookies.find((c) => c.name === 'better-auth.session_token');
    assert.ok(session, `cookies: ${cookies.map((c) => c.name).join(', ')}`);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    assert.equal(session.path, '/');
    assert.equal(session.expires, -1, 'a browser-session cookie when "remember me" is off');
    for (const c of cookies) assert.equal(c.httpOnly, true, `${c.name} is script-readable`);
  }],
  ['with "remember me" on, the cookie is persistent (7 days) and still HttpOnly', async () => {
    const cookies = await pageB.context().cookies();
    const session = cookies.find((c) => c.name === 'better-auth.session_token');
    assert.ok(session);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    const days = (session.expires - Date.now() / 1000) / 86400;
    assert.ok(days > 6.9 && days <= 7.01, `expires in ${days} days`);
  }],
  ['every page and asset carries the security headers', async () => {
    const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
    for (const url of ['/sign-in', '/sign-up', '/tasks', '/account', '/assets/app.css', '/assets/auth.js', '/assets/tessera-client.js', '/tasks?x=1']) {
      const response = await pageC.request.get(url, { maxRedirects: 0 });
      const headers = response.headers();
      assert.equal(headers['content-security-policy'], csp, url);
      assert.equal(headers['x-content-type-options'], 'nosniff', url);
      assert.equal(headers['x-frame-options'], 'DENY', url);
      assert.ok(['same-origin', 'strict-origin-when-cross-origin'].includes(headers['referrer-policy']), url);
      if (!url.startsWith('/assets/')) assert.equal(headers['cache-control'], 'no-store', url);
    }
    const signedOut = await browser.newContext({ baseURL: BASE });
    const redirect = await signedOut.request.get('/account', { maxRedirects: 0 });
    assert.equal(redirect.status(), 303);
    assert.equal(redirect.headers().location, '/sign-in?next=/account');
    assert.equal(redirect.headers()['cache-control'], 'no-store');
    await signedOut.close();
    assertNoProblems(pageC);
  }],
  ['the CSP is enforced in these contexts: an injected inline script does not run', async () => {
    // The axe check must not weaken this: the contexts are made without bypassCSP.
    const page = await newPage();
    await page.goto('/sign-in');
    await page.addScriptTag({ content: 'window.injectedRan = true;' }).catch(() => {});
    assert.equal(await page.evaluate(() => window.injectedRan === true), false, 'an inline script ran despite the CSP');
    assert.ok(problems.get(page).some((p) => /Content Security Policy/.test(p)), `no CSP violation was reported: ${problems.get(page)}`);
    await page.context().close();
    openPages.splice(openPages.indexOf(page), 1);
  }],
  ['the axe check reports a violation it is shown (a field without its label)', async () => {
    const page = await newPage();
    await page.goto('/sign-in');
    await page.evaluate(() => document.querySelector('label[for="email"]').remove());
    await assert.rejects(assertAccessible(page, 'sign-in without its email label'), (err) => {
      assert.match(err.message, /label \[critical\]/);
      assert.match(err.message, /#email/);
      return true;
    });
    await page.context().close();
    openPages.splice(openPages.indexOf(page), 1);
  }],
]);

// ---------------------------------------------------------------------------------------------
// 7. /account: changing the password works and the new one signs in; revoking another
//    context's session sends that context to sign-in on its next action.

const carol = { name: 'Carol Example', address: email('carol') };
const NEW_PASSWORD = `a brand new passphrase ${RUN}`;
let pageG;
let pageH;

await group("7. /account: change the password, sign in with it, revoke another context's session", [
  ['a user signed in in two contexts sees both sessions, the current one marked', async () => {
    pageG = await newPage();
    await signUp(pageG, carol);
    await expectPath(pageG, '/tasks');
    pageH = await newPage();
    await pageH.goto('/sign-in');
    await shoot(pageH, 'sign-in');
    await signIn(pageH, carol.address);
    await expectPath(pageH, '/tasks');
    await pageH.goto('/account');
    await pageG.getByRole('link', { name: 'Account' }).click();
    await expectPath(pageG, '/account');
    await pageG.locator('#session-list > li').nth(1).waitFor();
    assert.equal(await pageG.locator('#session-list > li').count(), 2);
    assert.equal(await pageG.locator('#session-list > li[data-current]').count(), 1);
    await pageG.locator('#session-list > li[data-current]', { hasText: 'This device' }).waitFor();
    assert.equal(await pageG.getByRole('button', { name: /^Revoke/ }).count(), 2);
    assert.equal(await pageG.locator('#profile-email').textContent(), carol.address);
    await shoot(pageG, 'account');
  }],
  ['an unverified address gets a notice whose button mails a new verification link', async () => {
    await pageG.getByRole('heading', { name: 'Email not verified' }).waitFor();
    await pageG.getByRole('button', { name: 'Resend verification email' }).click();
    await pageG.locator('#verify-status', { hasText: 'Verification email sent.' }).waitFor();
  }],
  ['changing the name is saved', async () => {
    await pageG.getByLabel('Name').fill('Carol Changed');
    await pageG.getByRole('button', { name: 'Save name' }).click();
    await pageG.locator('#profile-status', { hasText: 'Name saved.' }).waitFor();
    await pageG.reload();
    await pageG.locator('#session-list > li').first().waitFor();
    assert.equal(await pageG.getByLabel('Name').inputValue(), 'Carol Changed');
  }],
  ['a wrong current password is reported next to that field', async () => {
    await pageG.getByLabel('Current password').fill('definitely wrong');
    await pageG.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await pageG.getByLabel('Confirm new password').fill(NEW_PASSWORD);
    await pageG.getByRole('button', { name: 'Change password' }).click();
    await pageG.locator('#current-password-error', { hasText: 'Your current password is incorrect.' }).waitFor();
    assert.equal(await pageG.getByLabel('Current password').getAttribute('aria-invalid'), 'true');
    await shoot(pageG, 'account-password-error');
  }],
  ['changing the password works', async () => {
    await pageG.getByLabel('Current password').fill(PASSWORD);
    await pageG.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await pageG.getByLabel('Confirm new password').fill(NEW_PASSWORD);
    const changed = pageG.waitForResponse((r) => r.url().endsWith('/api/auth/change-password'));
    await pageG.getByRole('button', { name: 'Change password' }).click();
    assert.equal((await changed).status(), 200);
    await pageG.locator('#password-status', { hasText: 'Password changed.' }).waitFor();
    assert.equal(await pageG.locator('#current-password-error').textContent(), '');
  }],
  ['the old password no longer signs in; the new one does', async () => {
    await pageG.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expectPath(pageG, '/sign-in?reason=signed-out');
    await signIn(pageG, carol.address, PASSWORD);
    await pageG.locator('#password-error', { hasText: 'Incorrect email or password.' }).waitFor();
    await signIn(pageG, carol.address, NEW_PASSWORD);
    await expectPath(pageG, '/tasks');
  }],
  ["revoking the other context's session removes it from the list", async () => {
    await pageG.goto('/account');
    await pageG.locator('#session-list > li').nth(1).waitFor();
    const other = pageG.locator('#session-list > li:not([data-current])');
    assert.equal(await other.count(), 1);
    const revoked = pageG.waitForResponse((r) => r.url().endsWith('/api/auth/revoke-session'));
    await other.getByRole('button', { name: /^Revoke/ }).click();
    assert.equal((await revoked).status(), 200);
    await pageG.locator('#session-list > li:not([data-current])').waitFor({ state: 'detached' });
    assert.equal(await pageG.locator('#session-list > li').count(), 1);
  }],
  ['the revoked context is sent to sign-in on its next action', async () => {
    // pageH still shows /account from before; its next action is saving the name.
    await pageH.getByLabel('Name').fill('Should not be saved');
    await pageH.getByRole('button', { name: 'Save name' }).click();
    await expectPath(pageH, '/sign-in?next=/account&reason=expired');
    await pageH.locator('#notice', { hasText: 'Your session has ended' }).waitFor();
    await shoot(pageH, 'sign-in-session-ended');
    // And the name did not change.
    await pageG.reload();
    await pageG.locator('#session-list > li').first().waitFor();
    assert.equal(await pageG.getByLabel('Name').inputValue(), 'Carol Changed');
  }],
  ['"sign out everywhere" ends this session too', async () => {
    await pageG.getByRole('button', { name: 'Sign out everywhere' }).click();
    await pageG.getByText('Sign out of every device, including this one?').waitFor();
    await pageG.getByRole('button', { name: 'Yes, sign out everywhere' }).click();
    await expectPath(pageG, '/sign-in?reason=signed-out');
    await pageG.goto('/account');
    await expectPath(pageG, '/sign-in?next=/account');
    assertNoProblems(pageG);
    assertNoProblems(pageH);
  }],
]);

// ---------------------------------------------------------------------------------------------
// Beyond items 1–7: feedback for server errors, a server that is down, 429, validation.

await group('extra: clear feedback for errors, an unreachable server, 429 and validation', [
  ['an email already in use is reported next to the email field', async () => {
    const page = await newPage();
    await signUp(page, { name: 'Again', address: alice.address });
    await page.locator('#email-error', { hasText: 'An account with this email already exists.' }).waitFor();
    assert.equal(await page.getByLabel('Email').getAttribute('aria-invalid'), 'true');
    await expectPath(page, '/sign-up');
    await shoot(page, 'sign-up-error');
  }],
  ['missing and malformed fields are reported before anything is sent', async () => {
    const page = openPages[openPages.length - 1];
    await page.goto('/sign-up');
    await page.getByLabel('Email').fill('not-an-email');
    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('#name-error', { hasText: 'Enter your name.' }).waitFor();
    await page.locator('#email-error', { hasText: 'Enter a valid email address' }).waitFor();
    await page.locator('#password-error', { hasText: 'at least 8 characters' }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.id), 'name');
    await shoot(page, 'sign-up-validation');
  }],
  ['a leaked password is refused by the server and reported next to the password field', async () => {
    const page = openPages[openPages.length - 1];
    await signUp(page, { name: 'Leaky', address: email('leaky'), password: 'password123' });
    await page.locator('#password-error', { hasText: 'leaked passwords' }).waitFor();
    assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true');
    await expectPath(page, '/sign-up');
  }],
  ['server-side validation codes land next to their fields', async () => {
    const page = openPages[openPages.length - 1];
    await page.route('**/api/auth/sign-up/email', (route) =>
      route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify({ code: 'PASSWORD_TOO_SHORT', message: 'Password too short' }) }),
    );
    await signUp(page, { name: 'Dan', address: email('dan'), password: 'longenough' });
    await page.locator('#password-error', { hasText: 'Password is too short' }).waitFor();
    await page.unroute('**/api/auth/sign-up/email');
    await page.route('**/api/auth/sign-up/email', (route) =>
      route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify({ code: 'VALIDATION_ERROR', message: '[body.email] Invalid email address' }) }),
    );
    await signUp(page, { name: 'Dan', address: email('dan'), password: 'longenough' });
    await page.locator('#email-error', { hasText: 'Enter a valid email address' }).waitFor();
    await page.unroute('**/api/auth/sign-up/email');
  }],
  ['429 shows the wait from X-Retry-After and holds the button', async () => {
    const page = openPages[openPages.length - 1];
    await page.goto('/sign-in');
    await page.route('**/api/auth/sign-in/email', (route) =>
      route.fulfill({ status: 429, headers: { 'X-Retry-After': '7' }, body: JSON.stringify({ message: 'Too many requests. Please try again later.' }) }),
    );
    await signIn(page, alice.address, 'whatever it is');
    await page.locator('#form-error', { hasText: 'Too many attempts. Try again in 7 seconds.' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Sign in' }).isDisabled(), true);
    await shoot(page, 'sign-in-429');
    await page.unroute('**/api/auth/sign-in/email');
  }],
  ['an unreachable server is reported as such', async () => {
    const page = openPages[openPages.length - 1];
    await page.goto('/sign-in');
    await page.route('**/api/auth/sign-in/email', (route) => route.abort('connectionrefused'));
    await signIn(page, alice.address, PASSWORD);
    await page.locator('#form-error', { hasText: 'Server unreachable.' }).waitFor();
    await page.unroute('**/api/auth/sign-in/email');
  }],
  ['the tasks page reports an unreachable API and a rejected task next to the title', async () => {
    const page = pageB;
    await page.goto('/tasks');
    await taskItem(page, "Bob's private errand").waitFor();
    await page.route(/\/api\/[^/]+\/tasks$/, (route) =>
      route.request().method() === 'POST'
        ? route.fulfill({ status: 422, contentType: 'application/json', body: JSON.stringify({ detail: [{ loc: ['body', 'title'], msg: 'String should have at most 200 characters', type: 'string_too_long' }] }) })
        : route.continue(),
    );
    await page.getByLabel('New task').fill('Rejected by the (mocked) server');
    await page.getByRole('button', { name: 'Add task' }).click();
    await page.locator('#new-title-error', { hasText: 'String should have at most 200 characters' }).waitFor();
    await page.unroute(/\/api\/[^/]+\/tasks$/);
    await page.route(/\/api\/[^/]+\/tasks$/, (route) => route.abort('connectionrefused'));
    await page.getByRole('button', { name: 'Add task' }).click();
    await page.locator('#page-error', { hasText: 'Server unreachable.' }).waitFor();
    await shoot(page, 'tasks-unreachable');
    await page.unroute(/\/api\/[^/]+\/tasks$/);
  }],
  ["auth.js applies the server's `next` rule, tessera-client.js the refresh-lead rule", async () => {
    const page = pageB;
    await page.goto('/sign-in?next=/account');
    const result = await page.evaluate(async () => {
      const auth = await import('/assets/auth.js');
      const client = await import('/assets/tessera-client.js');
      const paths = ['/tasks', '/account?x=1', '//evil.example', 'https://evil.example/', '/\\evil', '/%2F/evil',
        '/%5cevil', 'tasks', '', '/a\u0000b', '/a\u0085b', '/ok%20path'];
      return {
        safe: paths.map((p) => [p, auth.isSafeRelativePath(p)]),
        leads: [900, 60, 3, 1].map((l) => client.refreshLead(l)),
        encoded: auth.encodeNext('/tasks?status=pending'),
      };
    });
    assert.deepEqual(result.safe, [
      ['/tasks', true], ['/account?x=1', true], ['//evil.example', false], ['https://evil.example/', false],
      ['/\\evil', false], ['/%2F/evil', false], ['/%5cevil', false], ['tasks', false], ['', false],
      ['/a\u0000b', false], ['/a\u0085b', false], ['/ok%20path', true],
    ]);
    assert.deepEqual(result.leads, [30, 12, 1, 1]);
    assert.equal(result.encoded, '/tasks%3Fstatus%3Dpending');
  }],
  ['unknown pages answer 404 with the app\'s page', async () => {
    const page = pageB;
    const response = await page.goto('/assets/nope.js');
    assert.equal(response.status(), 404);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await shoot(page, 'not-found');
  }],
  ['the 503 page (session store down) looks right and passes axe', async () => {
    // A running server cannot be made to lose its database from here, so the page is served in
    // its place: the file the binary embeds, under the headers the server sends with its pages.
    const page = pageB;
    const { 'content-security-policy': csp } = (await page.request.get('/sign-in')).headers();
    const body = fs.readFileSync(path.join(ROOT, 'web', 'unavailable.html'), 'utf8');
    await page.route('**/tasks', (route) => route.fulfill({ status: 503, contentType: 'text/html; charset=utf-8', headers: { 'content-security-policy': csp }, body }));
    const response = await page.goto('/tasks');
    assert.equal(response.status(), 503);
    await page.getByRole('heading', { name: 'Temporarily unavailable' }).waitFor();
    await shoot(page, 'unavailable');
    await page.unroute('**/tasks');
  }],
]);

// ---------------------------------------------------------------------------------------------
// Mail: the reset link is the one the server really mailed, read from the test SMTP server's
// Maildir (a real SMTP delivery, not a peek into the outbox).

/**
 * The decoded plain text of the first mail to `address` in MAILDIR (whose text matches
 * `matching`, when given; waits at most 30 s).
 */
async function mailTo(address, matching = null) {
  assert.ok(MAILDIR, 'set MAILDIR to the Maildir of the SMTP server Tessera delivers to');
  return waitForMail([path.join(MAILDIR, 'new'), path.join(MAILDIR, 'cur')], address, 30_000, matching);
}

const dave = { name: 'Dave Example', address: email('dave') };
const RESET_PASSWORD = `a reset passphrase ${RUN}`;
let pageM;
let resetLink;

await group('mail: forgot password, the mailed link, a new password', [
  ['"Forgot your password?" on the sign-in page leads to a form that reveals no account', async () => {
    const owner = await newPage();
    await signUp(owner, dave);
    await expectPath(owner, '/tasks');
    pageM = await newPage();
    await pageM.goto('/sign-in');
    await pageM.getByRole('link', { name: 'Forgot your password?' }).click();
    await expectPath(pageM, '/forgot-password');
    await shoot(pageM, 'forgot-password');
    await pageM.getByLabel('Email').fill(dave.address);
    await pageM.getByRole('button', { name: 'Send the link' }).click();
    await pageM.locator('#notice', { hasText: 'a link to reset its password is on its way' }).waitFor();
    await shoot(pageM, 'forgot-password-sent');
    assertNoProblems(pageM);
  }],
  ['the mail arrives over SMTP with a link to the reset page', async () => {
    const text = await mailTo(dave.address);
    const link = /(https?:\/\/\S+\/api\/auth\/reset-password\/\S+)/.exec(text);
    assert.ok(link, `no reset link in the mail:\n${text}`);
    resetLink = link[1];
    assert.ok(resetLink.startsWith(`${BASE}/api/auth/reset-password/`), resetLink);
    assert.ok(resetLink.endsWith('?callbackURL=%2Freset-password'), resetLink);
  }],
  ['the link opens the reset page, which keeps the token out of the address bar', async () => {
    await pageM.goto(resetLink);
    await expectPath(pageM, '/reset-password');
    await shoot(pageM, 'reset-password');
  }],
  ['two different passwords are refused next to the second field', async () => {
    await pageM.getByLabel('New password', { exact: true }).fill(RESET_PASSWORD);
    await pageM.getByLabel('Repeat the new password').fill(`${RESET_PASSWORD} typo`);
    await pageM.getByRole('button', { name: 'Set the new password' }).click();
    await pageM.locator('#confirm-password-error', { hasText: 'The two passwords differ.' }).waitFor();
    assert.equal(await pageM.getByLabel('Repeat the new password').getAttribute('aria-invalid'), 'true');
  }],
  ['the new password is set and signs in; the old one no longer does', async () => {
    await pageM.getByLabel('Repeat the new password').fill(RESET_PASSWORD);
    await pageM.getByRole('button', { name: 'Set the new password' }).click();
    await expectPath(pageM, '/sign-in?reason=password-reset');
    await pageM.locator('#notice', { hasText: 'Your new password is set.' }).waitFor();
    await signIn(pageM, dave.address, PASSWORD);
    await pageM.locator('#password-error', { hasText: 'Incorrect email or password.' }).waitFor();
    await signIn(pageM, dave.address, RESET_PASSWORD);
    await expectPath(pageM, '/tasks');
    assertNoProblems(pageM);
  }],
  ['the spent link leads to the reset page saying so, with the form disabled', async () => {
    await pageM.goto(resetLink);
    await expectPath(pageM, '/reset-password?error=INVALID_TOKEN');
    await pageM.locator('#form-error', { hasText: 'This link has expired or was already used.' }).waitFor();
    assert.equal(await pageM.getByLabel('New password', { exact: true }).isDisabled(), true);
    await shoot(pageM, 'reset-password-spent');
  }],
]);

const hana = { name: 'Hana Example', address: email('hana') };
let pageV;

await group('mail: verify the email address from the mailed link', [
  ['a new account is told its address is unverified and asks for the link by keyboard', async () => {
    pageV = await newPage();
    await signUp(pageV, hana);
    await expectPath(pageV, '/tasks');
    await pageV.goto('/account');
    await pageV.getByRole('heading', { name: 'Email not verified' }).waitFor();
    await pageV.getByRole('button', { name: 'Resend verification email' }).focus();
    await pageV.keyboard.press('Enter');
    await pageV.locator('#verify-status', { hasText: 'Verification email sent.' }).waitFor();
    assertNoProblems(pageV);
  }],
  ['the link mailed over SMTP verifies the address and lands back on /account', async () => {
    const text = await mailTo(hana.address, /verify-email/);
    const link = /(https?:\/\/\S+\/api\/auth\/verify-email\?\S+)/.exec(text)?.[1];
    assert.ok(link && link.endsWith('&callbackURL=%2Faccount'), `no verification link in the mail:\n${text}`);
    await pageV.goto(link);
    await expectPath(pageV, '/account');
    await pageV.locator('#session-list > li').first().waitFor();
    assert.equal(await pageV.getByRole('heading', { name: 'Email not verified' }).count(), 0, 'the notice is gone');
    const session = await pageV.evaluate(async () => (await fetch('/api/auth/get-session')).json());
    assert.equal(session.user.emailVerified, true);
    await shoot(pageV, 'account-verified');
    assertNoProblems(pageV);
  }],
]);

const gwen = { name: 'Gwen Example', address: email('gwen') };
const gwenNew = email('gwen-new');
let pageN;

// The server runs with TESSERA_CHANGE_EMAIL and TESSERA_DELETE_USER(_VERIFICATION) here.
await group('mail: change the email address and delete the account from the mailed links', [
  ['the email form refuses a malformed or unchanged address next to its field', async () => {
    pageN = await newPage();
    await signUp(pageN, gwen);
    await expectPath(pageN, '/tasks');
    await pageN.goto('/account');
    await pageN.locator('#session-list > li').first().waitFor();
    await pageN.getByLabel('New email address').fill('not-an-address');
    await pageN.getByRole('button', { name: 'Change email' }).click();
    await pageN.locator('#new-email-error', { hasText: 'Enter a valid email address' }).waitFor();
    assert.equal(await pageN.getByLabel('New email address').getAttribute('aria-invalid'), 'true');
    await pageN.getByLabel('New email address').fill(gwen.address.toUpperCase());
    await pageN.getByRole('button', { name: 'Change email' }).click();
    await pageN.locator('#new-email-error', { hasText: 'already your email address' }).waitFor();
  }],
  ['by keyboard alone the change is asked for, and the page says to check the inbox', async () => {
    await pageN.getByLabel('New email address').fill('');
    await pageN.focus('#new-email');
    await pageN.keyboard.type(gwenNew);
    await pageN.keyboard.press('Enter');
    await pageN.locator('#email-status', { hasText: 'Check your inbox' }).waitFor();
    assert.equal(await pageN.locator('#profile-email').textContent(), gwen.address, 'nothing changes before the link');
    await shoot(pageN, 'account-email-sent');
    assertNoProblems(pageN);
  }],
  ['the link mailed to the new address moves the account there and lands on /account', async () => {
    const text = await mailTo(gwenNew, /verify-email/);
    const link = /(https?:\/\/\S+\/api\/auth\/verify-email\?\S+)/.exec(text)?.[1];
    assert.ok(link && link.endsWith('&callbackURL=%2Faccount'), `no change link in the mail:\n${text}`);
    await pageN.goto(link);
    await expectPath(pageN, '/account');
    await pageN.locator('#profile-email', { hasText: gwenNew }).waitFor();
    await pageN.locator('#user-email', { hasText: gwenNew }).waitFor();
  }],
  ['deleting needs the box ticked, then by keyboard it mails a confirmation link', async () => {
    await pageN.getByRole('button', { name: 'Delete account' }).click();
    await pageN.locator('#delete-confirm-error', { hasText: 'Tick the box to confirm.' }).waitFor();
    await pageN.focus('#delete-confirm');
    await pageN.keyboard.press('Space');
    assert.equal(await pageN.getByLabel('I understand that my account is deleted for good').isChecked(), true);
    await pageN.keyboard.press('Tab');
    assert.equal(await pageN.evaluate(() => document.activeElement.textContent), 'Delete account');
    await pageN.keyboard.press('Enter');
    await pageN.locator('#delete-status', { hasText: 'follow the link we sent to delete your account' }).waitFor();
    await shoot(pageN, 'account-delete-sent');
    assertNoProblems(pageN);
  }],
  ['the mailed deletion link deletes the account and lands on the sign-in page, which says so', async () => {
    const text = await mailTo(gwenNew, /delete-user\/callback/);
    const link = /(https?:\/\/\S+\/api\/auth\/delete-user\/callback\?\S+)/.exec(text)?.[1];
    assert.ok(link, `no deletion link in the mail:\n${text}`);
    await pageN.goto(link);
    await expectPath(pageN, '/sign-in?reason=account-deleted');
    await pageN.locator('#notice', { hasText: 'Your account has been deleted.' }).waitFor();
    await shoot(pageN, 'sign-in-account-deleted');
    await signIn(pageN, gwenNew);
    await pageN.locator('#password-error', { hasText: 'Incorrect email or password.' }).waitFor();
    assertNoProblems(pageN);
  }],
]);

// ---------------------------------------------------------------------------------------------
// passkey: add, rename and remove a passkey on /account and sign in with it, in Chromium with a
// virtual authenticator (the DevTools Protocol's WebAuthn domain: a platform authenticator that
// verifies the user at once). Needs a server started with TESSERA_PASSKEY=true and opened at
// http://localhost:… (WebAuthn refuses an IP address as relying party id).

const erin = { name: 'Erin Example', address: email('erin') };
let pageP;

await group('passkey: add, rename and remove a passkey, and sign in with it', [
  ['a virtual authenticator is attached and a new user signs up', async () => {
    pageP = await newPage();
    const cdp = await pageP.context().newCDPSession(pageP);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await signUp(pageP, erin);
    await expectPath(pageP, '/tasks');
  }],
  ['the account page adds a named passkey with the keyboard', async () => {
    await pageP.goto('/account');
    await pageP.getByRole('heading', { name: 'Passkeys' }).waitFor();
    await pageP.locator('#passkey-list', { hasText: 'No passkeys yet.' }).waitFor();
    await pageP.getByLabel('Label for a new passkey (optional)').fill('This laptop');
    await pageP.getByLabel('Label for a new passkey (optional)').press('Enter');
    await pageP.locator('#passkeys-status', { hasText: 'Passkey added: This laptop.' }).waitFor();
    await pageP.locator('#passkey-list .session-device', { hasText: 'This laptop' }).waitFor();
    await shoot(pageP, 'account-passkeys');
    assertNoProblems(pageP);
  }],
  ['it is renamed in place', async () => {
    await pageP.getByRole('button', { name: 'Rename' }).click();
    const input = pageP.getByLabel('New label for This laptop');
    assert.equal(await pageP.evaluate(() => document.activeElement.id), 'passkey-0-name');
    await input.fill('Work laptop');
    await input.press('Enter');
    await pageP.locator('#passkeys-status', { hasText: 'Passkey renamed to Work laptop.' }).waitFor();
    await pageP.locator('#passkey-list .session-device', { hasText: 'Work laptop' }).waitFor();
  }],
  ['signed out, "Sign in with a passkey" signs in without a password', async () => {
    const { id } = await whoAmI(pageP);
    await pageP.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expectPath(pageP, '/sign-in?reason=signed-out');
    const button = pageP.getByRole('button', { name: 'Sign in with a passkey' });
    await button.waitFor();
    await shoot(pageP, 'sign-in-passkey');
    await button.focus();
    await pageP.keyboard.press('Enter');
    await expectPath(pageP, '/tasks');
    assert.equal((await whoAmI(pageP)).id, id, 'the same user, with a session and a JWT');
    assertNoProblems(pageP);
  }],
  ['a removed passkey no longer signs in', async () => {
    await pageP.goto('/account');
    await pageP.getByRole('button', { name: 'Remove' }).click();
    await pageP.getByRole('button', { name: 'Yes, remove' }).click();
    await pageP.locator('#passkeys-status', { hasText: 'Passkey removed: Work laptop.' }).waitFor();
    await pageP.locator('#passkey-list', { hasText: 'No passkeys yet.' }).waitFor();
    await pageP.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expectPath(pageP, '/sign-in?reason=signed-out');
    await pageP.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await pageP.locator('#passkey-error', { hasText: 'This passkey is not registered here.' }).waitFor();
    await shoot(pageP, 'sign-in-passkey-unknown');
    assert.equal(pathOf(pageP), '/sign-in?reason=signed-out');
  }],
]);

// Social sign-in (issue 18): a server configured with one generic OpenID Connect provider
// (scripts/test.sh: TESSERA_OAUTH_PROVIDERS=test-oidc, the oidc-provider at TEST_OIDC_ISSUER,
// whose interaction signs in its default account, alice@oidc.test, without asking).
let pageS;
await group('social: "Continue with …" signs a new user in through the OpenID provider and lands on /tasks', [
  ['the sign-in page offers the configured provider, axe-clean at both widths', async () => {
    pageS = await newPage();
    await pageS.goto('/sign-in');
    await pageS.getByRole('button', { name: 'Continue with test-oidc' }).waitFor();
    await shoot(pageS, 'sign-in-social');
  }],
  ['the button is reached by keyboard and signs in at the provider, landing on /tasks', async () => {
    const button = pageS.getByRole('button', { name: 'Continue with test-oidc' });
    await button.focus();
    await pageS.keyboard.press('Enter');
    await expectPath(pageS, '/tasks');
    await pageS.locator('#user-email', { hasText: 'alice@oidc.test' }).waitFor();
    assertNoProblems(pageS);
  }],
  ['a second sign-in finds the same user', async () => {
    const again = await newPage();
    await again.goto('/sign-in');
    await again.getByRole('button', { name: 'Continue with test-oidc' }).click();
    await expectPath(again, '/tasks');
    await again.locator('#user-email', { hasText: 'alice@oidc.test' }).waitFor();
  }],
  ['the sign-up page offers it too', async () => {
    const up = await newPage();
    await up.goto('/sign-up');
    await up.getByRole('button', { name: 'Continue with test-oidc' }).waitFor();
    await shoot(up, 'sign-up-social');
  }],
  ['a refused provider sign-in comes back to /sign-in and says why', async () => {
    const refused = await newPage();
    await refused.goto('/sign-in?error=access_denied');
    await refused.locator('#form-error', { hasText: 'The sign-in was cancelled at the provider.' }).waitFor();
    await shoot(refused, 'sign-in-social-refused');
  }],
]);

/** RFC 6238 (HMAC-SHA-1, 6 digits, 30 s) of a Base32 key, `steps` periods from now: the app's code. */
function totp(base32Key, steps = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32Key) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + steps));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

const frank = { name: 'Frank', address: email('frank') };
let pageT;
let totpKey;
let backupCode;
await group('two-factor: turn it on from the account page, then sign in with a code', [
  ['the account page sets two-factor up: a QR code drawn in the page, the key, ten backup codes', async () => {
    pageT = await newPage();
    await signUp(pageT, frank);
    await expectPath(pageT, '/tasks');
    await pageT.goto('/account');
    await pageT.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
    await pageT.getByLabel('Your password, to confirm').fill(PASSWORD);
    await pageT.getByRole('button', { name: 'Turn on two-factor' }).click();
    await pageT.locator('#two-factor-qr svg path').waitFor();
    totpKey = (await pageT.locator('#two-factor-key').textContent()).trim();
    assert.match(totpKey, /^[A-Z2-7]{52}$/);
    const codes = await pageT.locator('#backup-codes li').allTextContents();
    assert.equal(codes.length, 10);
    backupCode = codes[0];
    await shoot(pageT, 'account-two-factor-setup');
  }],
  ['a wrong code is refused next to the field; the right one turns two-factor on', async () => {
    await pageT.getByLabel('Code from your app').fill('000000');
    await pageT.getByRole('button', { name: 'Confirm and turn on' }).click();
    await pageT.locator('#two-factor-code-error', { hasText: 'That code is not right.' }).waitFor();
    await pageT.getByLabel('Code from your app').fill(totp(totpKey));
    await pageT.getByRole('button', { name: 'Confirm and turn on' }).click();
    await pageT.locator('#two-factor-status', { hasText: 'Two-factor is on.' }).waitFor();
    await pageT.getByRole('button', { name: 'Turn off two-factor' }).waitFor();
    assertNoProblems(pageT);
  }],
  ['signing in again asks for the second factor, and a code from the app opens the session', async () => {
    await pageT.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expectPath(pageT, '/sign-in?reason=signed-out');
    await signIn(pageT, frank.address);
    await pageT.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
    await shoot(pageT, 'sign-in-second-factor');
    // The next period's code: the one that turned two-factor on is spent.
    await pageT.getByLabel('Code', { exact: true }).fill(totp(totpKey, 1));
    await pageT.getByRole('button', { name: 'Verify' }).click();
    await expectPath(pageT, '/tasks');
    assertNoProblems(pageT);
  }],
  ['another browser passes with a backup code, and the same code is refused the next time', async () => {
    const other = await newPage();
    await other.goto('/sign-in');
    await signIn(other, frank.address);
    await other.getByLabel('Code', { exact: true }).fill(backupCode);
    await other.getByRole('button', { name: 'Verify' }).click();
    await expectPath(other, '/tasks');
    const third = await newPage();
    await third.goto('/sign-in');
    await signIn(third, frank.address);
    await third.getByLabel('Code', { exact: true }).fill(backupCode);
    await third.getByRole('button', { name: 'Verify' }).click();
    await third.locator('#code-error', { hasText: 'That backup code is not right' }).waitFor();
  }],
]);

await browser.close();

console.log('');
if (failures.length) console.log(`failed:\n  ${failures.join('\n  ')}`);
console.log(`screenshots: ${path.relative(ROOT, SHOTS) || SHOTS}/ (${shotNames.size} page views, each at 1280 and 360 px)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
