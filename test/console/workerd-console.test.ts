// The console of the Workers build: `wrangler dev` (workerd, local mode) on infra/cloudflare/wrangler.toml, whose
// `[build]` runs scripts/build-console.ts and whose `[assets]` serve its output through the ASSETS binding. The page
// and its files come out byte for byte as built, with the console's CSP (connect-src: the configured S3 endpoint's
// origin), revalidation and the API's 404s; then a real Chromium signs in on that page, creates a dataset with a
// hostile name (shown as text) and signs out, with no console error.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleCsp } from '../../edge/routes/console.ts';
import { CONSOLE_FILES, CONSOLE_SITE_DIR } from '../../scripts/build-console.ts';
import { type WranglerDev, WORKERD_ADMIN, edgeVars, startWranglerDev } from '../helpers/wrangler-dev.ts';
import { fill, launchBrowser, waitForText, watch } from './browser.ts';

/** The S3 endpoint the Workers edge is configured with (nothing listens there: these tests store nothing). */
const S3_ENDPOINT = 'http://127.0.0.1:9';

let dev: WranglerDev;
let browser: Browser;

beforeAll(async () => {
  // The browser first: without one the file fails at once, with one line saying how to install it.
  browser = await launchBrowser();
  dev = await startWranglerDev({ vars: edgeVars(null) });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await dev?.stop();
});

describe('the console on the Workers build', () => {
  it('serves the built files from the assets binding with the console’s headers', async () => {
    for (const file of CONSOLE_FILES) {
      const res = await fetch(`${dev.base}/console/${file}`);
      expect(res.status, file).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(CONSOLE_SITE_DIR, file))), file).toBe(true);
      expect(res.headers.get('content-security-policy'), file).toBe(consoleCsp(S3_ENDPOINT));
      expect(res.headers.get('x-content-type-options'), file).toBe('nosniff');
    }
    const page = await fetch(`${dev.base}/console`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toBe(readFileSync(join(CONSOLE_SITE_DIR, 'index.html'), 'utf8'));
    expect((await fetch(`${dev.base}/console/app.js`, { method: 'HEAD' })).headers.get('content-type')).toMatch(/javascript/);
  });

  it('revalidates with ETag, redirects /console/ and answers unknown files with the API’s 404', async () => {
    const first = await fetch(`${dev.base}/console/app.css`);
    const etag = first.headers.get('etag');
    await first.arrayBuffer();
    expect(etag).toBeTruthy();
    expect((await fetch(`${dev.base}/console/app.css`, { headers: { 'if-none-match': etag! } })).status).toBe(304);
    const slash = await fetch(`${dev.base}/console/`, { redirect: 'manual' });
    expect([slash.status, slash.headers.get('location')]).toEqual([308, '/console']);
    for (const path of ['/console/missing.js', '/console/..%2Fstamp.json', '/console/a/app.js', '/stamp.json', '/console/index']) {
      const res = await fetch(dev.base + path);
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code, path).toBe('not_found');
    }
  });

  it('runs in Chromium: sign in, a dataset with a hostile name shown as text, sign out, no console error', async () => {
    const tenant = await fetch(`${dev.base}/v1/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WORKERD_ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'workerd console' }),
    });
    const { api_key: key } = (await tenant.json()) as { api_key: string };
    const page = await browser.newPage();
    const log = watch(page);
    await page.goto(`${dev.base}/console`);
    await page.waitForSelector('#api-key');
    await fill(page, '#api-key', key);
    await page.click('button[type=submit]');
    await waitForText(page, 'main h1', /^Datasets$/);
    expect(await page.$eval('.tenant-name', (el) => el.textContent)).toBe('workerd console');

    const name = '<script>alert(1)</script><img src=x onerror=alert(2)>';
    await page.type('#new-dataset-name', name);
    await page.click('form.inline-form button[type=submit]');
    expect(await waitForText(page, 'h1.dataset-title', /script/)).toBe(name);
    expect(await page.$$eval('img[src="x"], main script', (els) => els.length)).toBe(0);

    await page.click('#sign-out');
    await page.waitForSelector('#api-key');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(log.problems).toEqual([]);
    expect(log.messages.filter((m) => m.includes(key))).toEqual([]);
  });
});
