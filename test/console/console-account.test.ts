// The console's Account page (docs/console.md, "Account") in a real headless Chromium against the real local stack of
// `npm start`: the tenant and its quotas as GET /v1/me reports them (a plan override set by the operator included);
// the usage table's figures as GET /v1/usage reports them after a classify call, and the API's 422 for a refused
// range; an API key created in the page, shown once (it works; after a reload it is nowhere in the page), revoked
// after an inline confirmation operated from the keyboard (it stops working); the signed-in key's revoke refused with
// an explanation; both key events in the audit log; a phone-sized screen; no console error, the keys in no URL or
// console line. CONSOLE_SCREENSHOTS=1 also writes docs/console/account.png.
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytes } from '../../console/src/format.ts';
import { toyImageSet } from '../../lab/toyworld/image-sets.ts';
import { encodePng } from '../../lab/toyworld/png.ts';
import { CoCoOp, type Me } from '../../sdk/src/index.ts';
import { type LocalStack, startLocalStack } from '../sdk/local-stack.ts';
import { type PageLog, fill, launchBrowser, waitForText, watch } from './browser.ts';
import { screenshot } from './screenshots.ts';

const CLASSES = ['blue star', 'red square'];
/** The operator's plan for this tenant: a datasets quota that is not the default, so the page must show the tenant's own. */
const DATASETS_QUOTA = 7;

let stack: LocalStack;
let browser: Browser;
let page: Page;
let log: PageLog;
let key: string;
let client: CoCoOp;
let me: Me;
/** The key created in the page, as read from its shown-once field. */
let created: { id: string; secret: string };

beforeAll(async () => {
  browser = await launchBrowser();
  stack = await startLocalStack();
  key = await stack.newTenantKey('account tests');
  client = new CoCoOp({ baseURL: stack.url, apiKey: key });
  const tenantId = (await client.tenant.retrieve()).id;
  const patched = await fetch(`${stack.url}/v1/tenants/${tenantId}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ quotas: { datasets: DATASETS_QUOTA } }),
  });
  expect(patched.status).toBe(200);
  // Something used (one dataset) and something billed (one classify call of two images) before the page looks.
  await client.datasets.create({ name: 'counted' });
  const set = await toyImageSet('raster', 'test', 5, CLASSES, 1, 48);
  const pngs = await Promise.all(set.images.map(async (img) => new Blob([new Uint8Array(await encodePng(img))])));
  const classified = await client.classify({ model: 'zero-shot', images: pngs, labels: CLASSES });
  expect(classified.results).toHaveLength(2);
  me = await client.tenant.retrieve();
  page = await browser.newPage();
  log = watch(page);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
}, 30_000);

const textOf = (selector: string) => page.$eval(selector, (el) => el.textContent ?? '');
const digits = (text: string) => text.replace(/\D/g, '');
const meWith = (apiKey: string) => fetch(`${stack.url}/v1/me`, { headers: { authorization: `Bearer ${apiKey}` } });

/** Waits until no list or report of the page is still loading. */
async function settled(): Promise<void> {
  await page.waitForFunction(() => !document.querySelector('[role=status].muted') && document.querySelector('#audit-table, #keys-table'));
}

/** Waits until the focused element is the control with this text (focus moves after the render that shows it). */
async function focusOn(text: string): Promise<void> {
  await page.waitForFunction((t: string) => document.activeElement?.textContent === t, { timeout: 10_000 }, text);
}

/** Types a day into a date input as a user would (en-US: month, day, year) and checks the field took it. */
async function typeDate(selector: string, day: string): Promise<void> {
  const [y, m, d] = day.split('-');
  await page.focus(selector); // the first part, the month (a click would land on the part under the pointer)
  await page.keyboard.type(`${m}${d}${y}`);
  expect(await page.$eval(selector, (el) => (el as HTMLInputElement).value)).toBe(day);
}

/** Where in the page (text, attributes, field values), its address and its storage `text` occurs. */
function placesOf(text: string): Promise<string[]> {
  return page.evaluate((t: string) => {
    const found: string[] = [];
    if (document.documentElement.outerHTML.includes(t)) found.push('html');
    for (const el of document.querySelectorAll('input, textarea')) if ((el as HTMLInputElement).value.includes(t)) found.push(`field #${el.id}`);
    if (location.href.includes(t)) found.push('url');
    for (const store of [sessionStorage, localStorage]) {
      for (let i = 0; i < store.length; i++) if (store.getItem(store.key(i)!)?.includes(t)) found.push('storage');
    }
    return found;
  }, text);
}

describe('the Account page against the local stack', () => {
  it('is reached from the header after Webhooks and shows the tenant and its quotas as GET /v1/me reports them', async () => {
    await page.goto(`${stack.url}/console`);
    await page.waitForSelector('#api-key');
    await page.type('#api-key', key);
    await page.click('button[type=submit]');
    await waitForText(page, 'main h1', /^Datasets$/);
    expect(await page.$$eval('header nav a', (as) => as.map((a) => a.textContent))).toEqual(['Datasets', 'Training', 'Models', 'Evaluations', 'Webhooks', 'Account']);
    await page.click('header nav a[href="#/account"]');
    await waitForText(page, 'main h1', /^Account$/);
    expect(await page.$eval('header nav a[href="#/account"]', (a) => a.getAttribute('aria-current'))).toBe('page');

    await page.waitForSelector('#quotas-table');
    expect(await textOf('#tenant-name')).toBe('account tests');
    expect(await textOf('#tenant-id')).toBe(me.id);
    expect(me.quotas.datasets).toBe(DATASETS_QUOTA);
    expect(me.usage.datasets).toBe(1);
    const rows = await page.$$eval('#quotas-table tbody tr', (trs) =>
      trs.map((tr) => [tr.getAttribute('data-quota'), tr.querySelector('.quota-used')?.textContent ?? '', tr.querySelector('.quota-limit')?.textContent ?? '']),
    );
    expect(rows.map(([quota]) => quota)).toEqual(['datasets', 'images', 'bytes', 'concurrent_jobs']);
    for (const [quota, used, limit] of rows) {
      const q = quota as keyof Me['quotas'];
      if (q === 'bytes') expect([used, limit]).toEqual([bytes(me.usage.bytes), bytes(me.quotas.bytes)]);
      else expect([digits(used!), digits(limit!)], q).toEqual([String(me.usage[q]), String(me.quotas[q])]);
    }
    expect(digits(await textOf('#rate-limit'))).toContain(String(me.rate_limit.requests_per_window));
  });

  it('shows this month’s usage per day with the totals GET /v1/usage reports, and the API’s 422 for a refused range', async () => {
    const usage = await client.usage.retrieve();
    expect(usage.totals).toMatchObject({ classify_requests: 1, classify_images: 2 });
    await page.waitForSelector('#usage-totals');
    expect(await page.$eval('#usage-from', (el) => (el as HTMLInputElement).value)).toBe(usage.from);
    expect(await page.$eval('#usage-to', (el) => (el as HTMLInputElement).value)).toBe(usage.to);
    const heads = await page.$$eval('#usage-table thead th', (ths) => ths.map((th) => th.textContent));
    const totals = await page.$$eval('#usage-totals td', (tds) => tds.map((td) => td.textContent));
    const total = (head: string) => totals[heads.indexOf(head) - 1];
    expect(total('Classify requests')).toBe(String(usage.totals.classify_requests));
    expect(total('Images classified')).toBe(String(usage.totals.classify_images));
    expect(total('Texts embedded')).toBe(String(usage.totals.embedding_texts));
    const days = await page.$$eval('#usage-table tbody tr', (trs) => trs.map((tr) => [tr.querySelector('th')?.textContent, tr.querySelectorAll('td')[1]?.textContent]));
    expect(days).toEqual(usage.data.map((d) => [d.date, String(d.classify_images)]));

    // From after to: the API refuses the range; its own message is shown, on the field it names.
    const refused = await fetch(`${stack.url}/v1/usage?from=${usage.to}&to=2020-01-01`, { headers: { authorization: `Bearer ${key}` } });
    expect(refused.status).toBe(422);
    const { error } = (await refused.json()) as { error: { message: string; param: string } };
    log.allowHttpError(422, '/v1/usage');
    await typeDate('#usage-from', usage.to);
    await typeDate('#usage-to', '2020-01-01');
    await page.click('#usage-show');
    expect(await waitForText(page, '#usage-error .error', /Usage not shown:/)).toContain(error.message);
    expect(await page.$eval(`#usage-${error.param}`, (el) => el.getAttribute('aria-invalid'))).toBe('true');
    expect(await page.$('#usage-table')).toBeNull();

    // Back to the month: the table again.
    await typeDate('#usage-from', usage.from);
    await typeDate('#usage-to', usage.to);
    await page.click('#usage-show');
    await page.waitForSelector('#usage-totals');
    expect(await page.$('#usage-error .error')).toBeNull();
  });

  it('creates a key shown once, in a read-only field with a copy button; it works, and after a reload it is nowhere in the page', async () => {
    await fill(page, '#key-expiry', '0');
    await page.click('#create-key');
    expect(await waitForText(page, '#key-expiry-help .field-error', /whole number/)).toMatch(/from 1 to 3650/);
    expect(await page.$eval('#key-expiry', (el) => el.getAttribute('aria-invalid'))).toBe('true');
    expect(await page.$('#new-api-key')).toBeNull();

    await fill(page, '#key-expiry', '30');
    await page.click('#create-key');
    await page.waitForSelector('#new-api-key');
    // Focus moves to the new key (after the render that shows it), selected for copying.
    await page.waitForFunction(() => document.activeElement?.id === 'new-api-key', { timeout: 10_000 });
    const field = await page.$eval('#new-api-key', (el) => {
      const input = el as HTMLInputElement;
      return { value: input.value, readOnly: input.readOnly, focused: document.activeElement === input, label: input.labels?.[0]?.textContent };
    });
    expect(field).toEqual({ value: expect.stringMatching(/^ck_live_\w{32}$/), readOnly: true, focused: true, label: 'Your new API key' });
    expect(await textOf('#new-key-warning')).toMatch(/will not be shown again/);
    const listed = (await client.apiKeys.list().toArray()).find((k) => field.value.startsWith(k.prefix) && k.prefix !== key.slice(0, k.prefix.length));
    expect(listed).toBeDefined();
    created = { id: listed!.id, secret: field.value };
    expect(listed!.expires_at).not.toBeNull();

    const context = browser.defaultBrowserContext();
    await context.overridePermissions(stack.url, ['clipboard-read', 'clipboard-write', 'clipboard-sanitized-write']);
    await page.click('#copy-key');
    await waitForText(page, '#new-key [role=status]', /Copied/);
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(created.secret);

    // The key works: GET /v1/me with it answers this tenant.
    const res = await meWith(created.secret);
    expect(res.status).toBe(200);
    expect(((await res.json()) as Me).id).toBe(me.id);
    await waitForText(page, `tr[data-key-id="${created.id}"]`, /active/);
    expect(await textOf(`tr[data-key-id="${created.id}"] .key-prefix`)).toBe(`${listed!.prefix}…`);

    // In the page now (the search below finds it), nowhere after a reload.
    expect(await placesOf(created.secret)).toEqual(['field #new-api-key']);
    await page.reload();
    await waitForText(page, 'main h1', /^Account$/);
    await page.waitForSelector(`tr[data-key-id="${created.id}"]`);
    await settled();
    expect(await page.$('#new-api-key')).toBeNull();
    expect(await placesOf(created.secret)).toEqual([]);
  });

  it('revokes that key after an inline confirmation, from the keyboard; then it answers 401', async () => {
    const row = `tr[data-key-id="${created.id}"]`;
    await page.focus(`${row} .confirm-start`);
    await page.keyboard.press('Enter');
    expect(await waitForText(page, `${row} .confirm`, /Revoke/)).toContain(`Revoke ${created.secret.slice(0, 12)}…?`);
    // Focus follows the question: to its answer. Cancel first: nothing is revoked.
    await focusOn('Yes, revoke it');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForSelector(`${row} .confirm-start`);
    await focusOn('Revoke…');
    expect((await meWith(created.secret)).status).toBe(200);

    await page.keyboard.press('Enter');
    await focusOn('Yes, revoke it');
    await page.keyboard.press('Enter');
    expect(await waitForText(page, '#revoke-result', /revoked/)).toContain(created.id);
    await waitForText(page, `${row} .status`, /^revoked$/);
    expect(await page.$(`${row} button`)).toBeNull();
    const res = await meWith(created.secret);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/revoked/);
  });

  it('refuses to revoke the key the console is signed in with, and says why', async () => {
    const inUse = await page.$$eval('#keys-table tbody tr', (trs) => trs.filter((tr) => tr.querySelector('.in-use')).map((tr) => tr.getAttribute('data-key-id')));
    const mine = (await client.apiKeys.list().toArray()).find((k) => key.startsWith(k.prefix))!;
    expect(inUse).toEqual([mine.id]);
    await page.click(`tr[data-key-id="${mine.id}"] .revoke-in-use`);
    expect(await waitForText(page, '#revoke-result .error', /Not revoked:/)).toMatch(/signed in with .*sign in with another key/i);
    expect(await page.$('.confirm')).toBeNull();
    expect((await meWith(key)).status).toBe(200);
    expect((await client.apiKeys.list().toArray()).find((k) => k.id === mine.id)!.revoked_at).toBeNull();
  });

  it('shows the audit log newest first, as GET /v1/audit-events has it, with the key’s creation and revocation', async () => {
    const events = await client.auditEvents.list({ limit: 50 }).toArray();
    const mine = (await client.apiKeys.list().toArray()).find((k) => key.startsWith(k.prefix))!;
    expect(events.slice(0, 2).map((e) => [e.action, e.target.id, e.actor.id])).toEqual([
      ['api_key.revoked', created.id, mine.id],
      ['api_key.created', created.id, mine.id],
    ]);
    await waitForText(page, '#audit-table', /api_key\.revoked/);
    const rows = await page.$$eval('#audit-table tbody tr', (trs) =>
      trs.map((tr) => [tr.getAttribute('data-action'), tr.querySelector('.audit-target')?.textContent, tr.querySelectorAll('td')[2]?.textContent]),
    );
    expect(rows).toEqual(events.map((e) => [e.action, e.target.id, e.actor.type === 'admin' ? 'the operator (admin)' : `API key ${e.actor.id}`]));
    expect(await textOf('#audit-table tbody tr:nth-child(2)')).toContain(`prefix: ${created.secret.slice(0, 12)}`);
    await screenshot(page, 'account', { fullPage: true });
  });

  it('fits a phone-sized screen: nothing wider than the screen', async () => {
    await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
    try {
      await page.reload();
      await waitForText(page, 'main h1', /^Account$/);
      await page.waitForSelector('#usage-totals');
      await page.waitForSelector('#quotas-table');
      await settled();
      const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
      expect(scroll).toBeLessThanOrEqual(width);
      expect(await page.$eval('header nav', (n) => n.getBoundingClientRect().right)).toBeLessThanOrEqual(390);
    } finally {
      await page.setViewport({ width: 1280, height: 800 });
    }
  });

  it('logged no error, opened no dialog, and put neither key in a URL or a console line', () => {
    expect(log.problems).toEqual([]);
    expect(log.messages.filter((m) => m.includes(key) || m.includes(created.secret))).toEqual([]);
    expect(log.visited.length).toBeGreaterThan(0);
    expect(log.visited.filter((u) => u.includes('ck_live_'))).toEqual([]);
  });
});
