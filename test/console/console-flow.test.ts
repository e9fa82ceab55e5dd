// The web console (console/, docs/console.md) in a real headless Chromium against the real local stack of `npm start`
// (s3rver, the edge on Node with SQLite, a worker process on the bundled toy CLIP): sign in; a hostile dataset name
// and label shown as text; finalize refused with the API's reason; a toy-world folder uploaded through presigned PUTs
// (straight to the S3 server, across origins: CSP connect-src and the bucket's CORS rule) with thumbnails and counts;
// finalize; a 2-epoch job from the form (a bad value refused before sending) followed live to its charts and confusion
// matrix; the model tried on an image and labels it never saw; its adapter downloaded; an evaluation; a webhook
// endpoint with a test delivery and a resend; the pages on a phone-sized screen; keyboard focus; a revoked key; sign
// out. No console errors, no dialogs, the key in no URL and no log line.
// CONSOLE_SCREENSHOTS=1 (npm run console:screenshots) also writes docs/console/*.png.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, HTTPRequest, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toyImageSet, writeImageFolder } from '../../lab/toyworld/image-sets.ts';
import { type LocalStack, startLocalStack } from '../sdk/local-stack.ts';
import { waitUntil } from '../helpers/wait-until.ts';
import { type WebhookReceiver, startReceiver } from '../helpers/webhook-receiver.ts';
import { type PageLog, fill, launchBrowser, waitForText, watch } from './browser.ts';
import { screenshot } from './screenshots.ts';

const CLASSES = ['blue star', 'green circle', 'red square'];
const HOSTILE_NAME = '<img src=x onerror=alert(1)>';
const HOSTILE_LABEL = '<b>bold</b> & "quoted"';

let stack: LocalStack;
let receiver: WebhookReceiver;
let browser: Browser;
let page: Page;
let log: PageLog;
let key: string;
let scratch: string;
/** <scratch>/shapes/<class>/NNN.png: 6 night-domain images per class. */
let folder: string;
/** A held-out image of a class the model never trained on. */
let unseenImage: string;
let downloads: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'console-flow-'));
  folder = join(scratch, 'shapes');
  downloads = join(scratch, 'downloads');
  await writeImageFolder(await toyImageSet('night', 'train', 5, CLASSES, 6, 48), folder);
  writeFileSync(join(folder, 'README.txt'), 'not an image');
  await writeImageFolder(await toyImageSet('night', 'test', 5, ['purple hexagon'], 1, 48), join(scratch, 'unseen'));
  unseenImage = join(scratch, 'unseen', 'purple hexagon', '000.png');
  // The browser first: without one the file fails at once, with one line saying how to install it.
  browser = await launchBrowser();
  [stack, receiver] = await Promise.all([startLocalStack(), startReceiver()]);
  key = await stack.newTenantKey('console tests');
  page = await browser.newPage();
  log = watch(page);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await receiver?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}, 30_000);

const textOf = (selector: string) => page.$eval(selector, (el) => el.textContent ?? '');
const countOf = (selector: string) => page.$$eval(selector, (els) => els.length);

async function goTo(hash: string): Promise<void> {
  await page.evaluate((h) => (location.hash = h), hash);
}

describe('the web console against the local stack', () => {
  it('refuses a wrong key with the API’s message, then signs in with a good one (kept in sessionStorage only)', async () => {
    await page.goto(`${stack.url}/console`);
    await page.waitForSelector('#api-key');
    await screenshot(page, 'sign-in');

    log.allowHttpError(401, '/v1/me');
    await page.type('#api-key', 'ck_live_not_a_real_key');
    await page.click('button[type=submit]');
    expect(await waitForText(page, '.sign-in .error', /This key was refused: /)).toMatch(/key/i);

    await fill(page, '#api-key', key);
    await page.click('button[type=submit]');
    await waitForText(page, 'main h1', /^Datasets$/);
    expect(await textOf('.tenant-name')).toBe('console tests');
    expect(await page.evaluate(() => sessionStorage.getItem('cocoop.console.apiKey'))).toBe(key);
    expect(await page.evaluate(() => localStorage.length + document.cookie.length)).toBe(0);
  });

  it('shows a hostile dataset name and label as text, and the API’s reason when finalize is refused', async () => {
    await page.type('#new-dataset-name', HOSTILE_NAME);
    await page.click('form.inline-form button[type=submit]');
    expect(await waitForText(page, 'h1.dataset-title', /img/)).toBe(HOSTILE_NAME);
    expect(await countOf('img[src="x"]')).toBe(0);

    log.allowHttpError(422, '/finalize');
    await page.click('#finalize');
    expect(await waitForText(page, '.error', /Not finalized:/)).toMatch(/image/i);

    // Loose files dropped on the drop zone (the DataTransferItem path) get the label typed for them.
    const dropzone = (await page.$('#dropzone'))!;
    const box = (await dropzone.boundingBox())!;
    const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    const files = ['000.png', '001.png'].map((f) => join(folder, 'red square', f));
    const data = { items: [], files, dragOperationsMask: 1 };
    await page.mouse.dragEnter(at, data);
    await page.mouse.dragOver(at, data);
    await page.mouse.drop(at, data);
    await waitForText(page, '#label-plan', /2 files chosen/);
    await page.type('#upload-label', HOSTILE_LABEL);
    await page.click('#start-labelled-upload');
    await waitForText(page, '#upload-status', /Done: 2 of 2 uploaded/);
    await waitForText(page, '#classes', /bold/);
    expect(await page.$$eval('#classes .class-name', (els) => els.map((e) => e.textContent))).toEqual([HOSTILE_LABEL]);
    expect(await countOf('#classes b')).toBe(0);

    await goTo('#/datasets');
    await waitForText(page, '#datasets-table', /img/);
    expect(await page.$$eval('#datasets-table a.dataset-name', (els) => els.map((e) => e.textContent))).toContain(HOSTILE_NAME);
    expect(await countOf('img[src="x"]')).toBe(0);
    expect(log.problems.filter((p) => p.startsWith('dialog'))).toEqual([]);
  });

  it('deletes a dataset only after an inline confirmation that names it as text', async () => {
    await page.click('#datasets-table a.dataset-name');
    await page.waitForSelector('h1.dataset-title');
    await page.click('.confirm-start');
    expect(await waitForText(page, '.confirm', /Delete/)).toContain(`Delete “${HOSTILE_NAME}” and its 2 images?`);
    await page.click('.confirm button:not(.danger)');
    await page.waitForSelector('.confirm-start');
    await page.click('.confirm-start');
    await page.click('.confirm button.danger');
    await waitForText(page, 'main h1', /^Datasets$/);
    await page.waitForFunction(() => !document.querySelector('[role=status].muted'));
    expect(await page.$$eval('a.dataset-name', (els) => els.map((e) => e.textContent))).not.toContain(HOSTILE_NAME);
    expect(log.problems.filter((p) => p.startsWith('dialog'))).toEqual([]);
  });

  it('uploads a toy-world folder through presigned uploads, with progress, per-class thumbnails and counts, and finalizes it', async () => {
    await fill(page, '#new-dataset-name', 'toy shapes');
    await page.click('form.inline-form button[type=submit]');
    await waitForText(page, 'h1.dataset-title', /toy shapes/);

    // What a folder drop delivers: the folder's files with their relative paths (webkitdirectory).
    const input = (await page.$('input#folder-input'))!;
    await input.uploadFile(folder);
    expect(await waitForText(page, '#upload-plan', /18 images in 3 classes/)).toMatch(/blue star \(6\), green circle \(6\), red square \(6\)/);
    expect(await textOf('#upload-plan details')).toContain('shapes/README.txt: not inside a class folder');

    // One file's PUT to storage fails (a network fault injected in the browser, every retry too): it is reported on
    // its own, the 17 others are uploaded, and sending the failed one again completes the dataset.
    let faulty: string | null = null;
    await page.setRequestInterception(true);
    const inject = (req: HTTPRequest) => {
      if (req.isInterceptResolutionHandled()) return;
      if (req.method() === 'PUT' && !req.url().startsWith(stack.url)) {
        faulty ??= req.url();
        if (req.url() === faulty) {
          log.allowFailedRequest(faulty);
          return void req.abort('connectionreset');
        }
      }
      void req.continue();
    };
    page.on('request', inject);
    await page.click('#start-upload');
    await waitForText(page, '#upload-status', /Done: 17 of 18 uploaded, 1 failed/);
    page.off('request', inject);
    await page.setRequestInterception(false);
    expect(await countOf('.file-list .file-failed')).toBe(1);
    expect(await textOf('.file-list .file-failed .file-state')).toMatch(/^failed: /);
    await waitForText(page, '#dataset-count', /^17$/);
    await page.click('#retry-failed');
    await waitForText(page, '#upload-status', /Done: 1 of 1 uploaded/);
    expect(await page.$eval('#upload-progress', (el) => (el as HTMLProgressElement).value)).toBe(1);
    await waitForText(page, '#dataset-count', /^18$/);
    const classes = await page.$$eval('#classes .class-card', (cards) =>
      cards.map((c) => [c.querySelector('.class-name')?.textContent, c.querySelector('.count')?.textContent, c.querySelectorAll('.thumbs img').length]),
    );
    expect(classes).toEqual(CLASSES.map((c) => [c, '6', 6]));
    await screenshot(page, 'dataset', { fullPage: true });

    await page.click('#finalize');
    await page.waitForSelector('#start-training');
    expect(await textOf('.meta .status')).toBe('ready');
  });

  it('checks the hyperparameters before sending, trains 2 epochs and shows the live job, its charts and confusion matrix', async () => {
    await fill(page, '#hp-epochs', '0');
    await page.click('#start-training');
    expect(await waitForText(page, '#hp-epochs-error', /integer from 1 to 100/)).toBeTruthy();
    expect(await page.$eval('#hp-epochs', (el) => el.getAttribute('aria-invalid'))).toBe('true');
    await screenshot(page, 'train-form', { fullPage: true });

    await fill(page, '#hp-epochs', '2');
    await fill(page, '#hp-crop-min', '0.5');
    await page.click('#start-training');
    await page.waitForFunction(() => location.hash.startsWith('#/jobs/job_'));
    await waitForText(page, '#job-status', /succeeded/, 120_000);
    await page.waitForSelector('#charts canvas');
    expect(await countOf('#charts figure.chart')).toBe(2);
    // The figures behind the charts: one row per epoch.
    expect(await page.$$eval('#charts figure.chart', (figs) => figs.map((f) => f.querySelectorAll('details tbody tr').length))).toEqual([2, 2]);
    await page.waitForSelector('table.heatmap');
    expect(await page.$$eval('table.heatmap tbody tr', (rows) => rows.map((r) => r.querySelectorAll('td').length))).toEqual([3, 3, 3]);
    const held = await page.$$eval('table.heatmap tbody td', (cells) => cells.reduce((n, c) => n + Number(c.textContent), 0));
    expect(held).toBe(3); // floor(6 × 0.2) = 1 image per class held out
    expect(await countOf('.per-class tbody tr')).toBe(3);
    expect(await textOf('#events')).toMatch(/Epoch 2\/2/);
    await screenshot(page, 'job', { fullPage: true });
  });

  it('cancels a running job', async () => {
    const jobHash = await page.evaluate(() => location.hash);
    await page.click('.meta a[href^="#/datasets/"]');
    await page.waitForSelector('#start-training');
    await fill(page, '#hp-epochs', '100');
    await page.click('#start-training');
    await page.waitForFunction((previous: string) => location.hash.startsWith('#/jobs/job_') && location.hash !== previous, {}, jobHash);
    await page.waitForSelector('#cancel-job');
    await page.click('#cancel-job');
    await waitForText(page, '#job-status', /cancelled/, 60_000);
    expect(await countOf('#cancel-job')).toBe(0);
    expect(await textOf('#events')).toMatch(/cancel/i);
    await page.evaluate((h) => (location.hash = h), jobHash);
    await waitForText(page, '#job-status', /succeeded/);
  });

  it('tries the model on an image and labels it never saw, next to zero-shot CLIP, and downloads the adapter', async () => {
    await page.click('#model-link');
    await page.waitForSelector('#try-image');
    const input = (await page.$('input#try-image'))!;
    await input.uploadFile(unseenImage);
    await page.waitForSelector('#try-preview');
    await fill(page, '#try-labels', 'blue star, green circle, red square, purple hexagon, yellow ring');
    await page.click('#try-classify');
    await page.waitForSelector('#predictions');
    const rows = await page.$$eval('#predictions tbody tr', (trs) =>
      trs.map((tr) => ({
        label: tr.querySelector('.label-text')?.textContent,
        isNew: tr.querySelector('.tag') !== null,
        values: [...tr.querySelectorAll('.bar-value')].map((v) => Number.parseFloat(v.textContent ?? '')),
      })),
    );
    expect(rows.map((r) => r.label).sort()).toEqual(['blue star', 'green circle', 'purple hexagon', 'red square', 'yellow ring']);
    expect(rows.filter((r) => r.isNew).map((r) => r.label).sort()).toEqual(['purple hexagon', 'yellow ring']);
    for (const column of [0, 1]) {
      const sum = rows.reduce((s, r) => s + r.values[column]!, 0);
      expect(Math.abs(sum - 100)).toBeLessThan(1); // probabilities over the labels, as percentages
    }
    // Sorted by the adapted model's probability.
    expect(rows.map((r) => r.values[0])).toEqual([...rows.map((r) => r.values[0])].sort((a, b) => b! - a!));
    await screenshot(page, 'model', { fullPage: true });

    const modelId = decodeURIComponent((await page.evaluate(() => location.hash)).split('/')[2]!);
    const cdp = await page.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads, eventsEnabled: true });
    const done = new Promise<void>((ok) =>
      cdp.on('Browser.downloadProgress', (e) => {
        if (e.state === 'completed') ok();
      }),
    );
    await page.click('#download-model');
    await done;
    const file = join(downloads, `${modelId}.safetensors`);
    const model = (await (await fetch(`${stack.url}/v1/models/${modelId}`, { headers: { authorization: `Bearer ${key}` } })).json()) as { artifact: { bytes: number } };
    expect(statSync(file).size).toBe(model.artifact.bytes);
    expect(readdirSync(downloads)).toEqual([`${modelId}.safetensors`]);
  });

  it('lists the model with its validation figures, and runs an evaluation of it on the dataset', async () => {
    await goTo('#/models');
    await page.waitForSelector('#models-table');
    expect(await page.$$eval('#models-table tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)))).toEqual([
      [expect.stringMatching(/^mdl_/), 'cocoop', '3', expect.stringMatching(/%$/), expect.stringMatching(/%$/), expect.stringMatching(/KiB$/), expect.any(String)],
    ]);
    await goTo('#/evaluations');
    await page.waitForSelector('#eval-model option[value^="mdl_"]');
    const modelValue = await page.$eval('#eval-model option[value^="mdl_"]', (o) => (o as HTMLOptionElement).value);
    await page.select('#eval-model', modelValue);
    const datasetValue = await page.$$eval('#eval-dataset option', (os) => os.find((o) => o.textContent?.startsWith('toy shapes'))!.getAttribute('value')!);
    await page.select('#eval-dataset', datasetValue);
    await page.click('form.card button[type=submit]');
    await page.waitForFunction(() => location.hash.startsWith('#/evaluations/eval_'));
    await waitForText(page, '.meta .status', /succeeded/, 60_000);
    await page.waitForSelector('table.heatmap');
    expect(await textOf('.scores .summary')).toMatch(/on 18 images/);
    await screenshot(page, 'evaluation', { fullPage: true });
  });

  it('adds a webhook endpoint, sends a test event, shows the delivery with its attempts, and resends it', async () => {
    await goTo('#/webhooks');
    await page.waitForSelector('#endpoint-url');
    await page.type('#endpoint-url', `${receiver.url}/console-hooks`);
    await page.click('form.card button[type=submit]');
    expect(await waitForText(page, '.notice', /signing secret/)).toMatch(/whsec_/);
    await page.click('.notice a');
    await page.waitForSelector('#send-test');
    await page.click('#send-test');
    // The receiver first (the API's side), then the page: a failure says which of the two did not happen.
    await waitUntil('the test event at the receiver', () => receiver.at('/console-hooks').length === 1, { context: () => log.messages.slice(-10).join('\n') });
    await waitForText(page, '#deliveries', /webhook\.test\s*succeeded\s*1 attempt/, 30_000);
    expect(receiver.at('/console-hooks')).toHaveLength(1);
    await page.click('#deliveries button');
    await waitForText(page, '#deliveries', /succeeded\s*2 attempts/, 30_000);
    expect(receiver.at('/console-hooks')).toHaveLength(2);
    await page.click('#deliveries details summary');
    expect(await countOf('#deliveries details tbody tr')).toBe(2);
    await screenshot(page, 'webhook', { fullPage: true });

    await page.click('#disable');
    await waitForText(page, '.meta .status', /disabled/);
    expect(await page.$eval('#send-test', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
    await page.click('#re-enable');
    await waitForText(page, '.meta .status', /enabled/);
    expect(await page.$eval('#send-test', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
  });

  it('works on a phone-sized screen: nothing wider than the screen, the navigation reachable', async () => {
    await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
    try {
      for (const hash of ['#/datasets', '#/jobs', '#/models', '#/webhooks']) {
        await goTo(hash);
        await page.waitForSelector('main h1');
        await page.waitForFunction(() => !document.querySelector('[role=status].muted'));
        const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
        expect(scroll, hash).toBeLessThanOrEqual(width);
      }
      await goTo('#/jobs');
      await page.waitForSelector('table.list a[href^="#/jobs/job_"]');
      // The succeeded job (the newest one was cancelled).
      await goTo(await page.$$eval('table.list tbody tr', (rows) => rows.find((r) => r.textContent?.includes('succeeded'))!.querySelector('a')!.getAttribute('href')!));
      await page.waitForSelector('table.heatmap');
      const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
      expect(scroll).toBeLessThanOrEqual(width);
      expect(await page.$eval('header nav', (n) => n.getBoundingClientRect().right)).toBeLessThanOrEqual(390);
      await screenshot(page, 'phone-job', { fullPage: false });
    } finally {
      await page.setViewport({ width: 1280, height: 800 });
    }
  });

  it('is operable from the keyboard with a visible focus', async () => {
    // A fresh load (the key is still in this tab's sessionStorage), then Tab from the top.
    await goTo('#/datasets');
    await page.reload();
    await page.waitForSelector('#datasets-table');
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      const style = getComputedStyle(el);
      return { text: el.textContent, outline: style.outlineStyle, width: Number.parseFloat(style.outlineWidth) };
    });
    expect(first.text).toBe('Skip to content');
    expect(first.outline).not.toBe('none');
    expect(first.width).toBeGreaterThanOrEqual(2);
    // Tab to the "Models" link and follow it with Enter.
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press('Tab');
      if ((await page.evaluate(() => document.activeElement?.textContent)) === 'Models') break;
    }
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      return { text: el.textContent, outline: getComputedStyle(el).outlineStyle };
    });
    expect(focused).toEqual({ text: 'Models', outline: 'solid' });
    await page.keyboard.press('Enter');
    await waitForText(page, 'main h1', /^Models$/);
  });

  it('signs out by itself with the API’s message when the key is revoked', async () => {
    const created = await fetch(`${stack.url}/v1/api-keys`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' });
    const second = (await created.json()) as { id: string; api_key: string };
    await page.click('#sign-out');
    await page.waitForSelector('#api-key');
    await page.type('#api-key', second.api_key);
    await page.click('button[type=submit]');
    await page.waitForSelector('#datasets-table');

    expect((await fetch(`${stack.url}/v1/api-keys/${second.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${key}` } })).status).toBe(204);
    log.allowHttpError(401, '/v1/models');
    await goTo('#/models');
    expect(await waitForText(page, '.notice', /Signed out:/)).toMatch(/revoked/);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await screenshot(page, 'revoked');
  });

  it('signs out: the key leaves sessionStorage', async () => {
    await page.type('#api-key', key);
    await page.click('button[type=submit]');
    await page.waitForSelector('#datasets-table');
    await screenshot(page, 'datasets');
    await page.click('#sign-out');
    await page.waitForSelector('#api-key');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(await page.evaluate(() => document.body.textContent)).not.toContain('toy shapes');
  });

  it('logged no error, opened no dialog, and put the key in no URL and no console line', () => {
    expect(log.problems).toEqual([]);
    expect(log.messages.filter((m) => m.includes(key))).toEqual([]);
    expect(log.visited.length).toBeGreaterThan(0);
    expect(log.visited.filter((u) => u.includes(key) || u.includes('ck_live_'))).toEqual([]);
  });
});

// The bytes of a served file are the build's (a sanity check that the page above ran the current build).
it('served the console build in console/dist', async () => {
  const res = await fetch(`${stack.url}/console/app.js`);
  expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(process.cwd(), 'console/dist/site/console/app.js')))).toBe(true);
});
