// Headless Chromium for the console tests: Debian's `chromium` package (or CHROME_PATH) driven by puppeteer-core —
// nothing is downloaded. Without a browser the tests fail with one line saying how to get one, as a missing Node
// would. `watch(page)` records what the page says: console messages, uncaught errors, dialogs (alert/confirm would
// mean injected script ran: the console never opens one), failed requests.
import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type ConsoleMessage, type Page } from 'puppeteer-core';

export const CHROME_PATH = process.env.CHROME_PATH || '/usr/bin/chromium';

/** One line: why there is no browser and how to install one; null when there is one. */
export function missingBrowser(path = CHROME_PATH): string | null {
  if (existsSync(path)) return null;
  return `No Chromium at ${path}: install Debian's chromium (sudo apt-get install -y chromium) or set CHROME_PATH to a Chromium executable.`;
}

export async function launchBrowser(path = CHROME_PATH): Promise<Browser> {
  const missing = missingBrowser(path);
  if (missing) throw new Error(missing);
  return puppeteer.launch({
    executablePath: path,
    headless: true,
    // --no-sandbox: CI runs as root in a container, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--lang=en-US', '--no-first-run', '--no-default-browser-check', '--disable-extensions'],
    defaultViewport: { width: 1280, height: 800 },
  });
}

export interface PageLog {
  /** Every console message as "type: text (url)". */
  messages: string[];
  /** Console errors not expected by allowHttpError, uncaught exceptions, dialogs. */
  problems: string[];
  /** A refusal the test provokes on purpose (e.g. 401 for a revoked key): Chromium logs it as a console error. */
  allowHttpError(status: number, urlPart: string): void;
  /** A request the test makes fail on purpose (an injected network fault): its failure and console line are expected. */
  allowFailedRequest(url: string): void;
  /** Every URL the page's main frame navigated to. */
  visited: string[];
}

const FAILED_RESOURCE = /^Failed to load resource: the server responded with a status of (\d{3})/;

export function watch(page: Page): PageLog {
  const allowed: { status: number; urlPart: string }[] = [];
  const failing = new Set<string>();
  const log: PageLog = {
    messages: [],
    problems: [],
    allowHttpError: (status, urlPart) => void allowed.push({ status, urlPart }),
    allowFailedRequest: (url) => void failing.add(url),
    visited: [],
  };
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) log.visited.push(frame.url());
  });
  page.on('console', (msg: ConsoleMessage) => {
    const url = msg.location()?.url ?? '';
    const line = `${msg.type()}: ${msg.text()}${url ? ` (${url})` : ''}`;
    log.messages.push(line);
    if (msg.type() !== 'error' || failing.has(url)) return;
    const status = Number(FAILED_RESOURCE.exec(msg.text())?.[1] ?? NaN);
    if (allowed.some((a) => a.status === status && url.includes(a.urlPart))) return;
    log.problems.push(line);
  });
  page.on('pageerror', (err) => log.problems.push(`pageerror: ${err instanceof Error ? err.message : String(err)}`));
  page.on('dialog', (dialog) => {
    log.problems.push(`dialog ${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on('requestfailed', (req) => {
    const reason = req.failure()?.errorText ?? '';
    // A navigation away cancels what was in flight (ERR_ABORTED); anything else is a failure.
    if (reason !== 'net::ERR_ABORTED' && !failing.has(req.url())) log.problems.push(`request failed: ${req.method()} ${req.url()} ${reason}`);
  });
  return log;
}

/**
 * Waits until the element matching `selector` has text matching `pattern`; returns that text. On timeout the error
 * says what the element and the page's main content said instead.
 */
export async function waitForText(page: Page, selector: string, pattern: RegExp, timeout = 30_000): Promise<string> {
  try {
    const handle = await page.waitForFunction(
      (sel: string, source: string, flags: string) => {
        const el = document.querySelector(sel);
        const text = el?.textContent ?? '';
        return new RegExp(source, flags).test(text) ? text : false;
      },
      // Polled: Preact changes a text in place (characterData), which mutation polling does not see.
      { timeout, polling: 50 },
      selector,
      pattern.source,
      pattern.flags,
    );
    return (await handle.jsonValue()) as string;
  } catch (err) {
    const seen = await page
      .evaluate((sel: string) => ({ element: document.querySelector(sel)?.textContent ?? null, main: document.querySelector('main')?.textContent ?? '', url: location.hash }), selector)
      .catch(() => null);
    const said = seen ? `${selector}: ${JSON.stringify(seen.element)}; page ${seen.url}: ${JSON.stringify(seen.main.slice(0, 1500))}` : 'the page could not be read';
    throw new Error(`no text matching ${pattern} in ${selector} within ${timeout / 1000} s (${said})`, { cause: err });
  }
}

/** Clears an input and types `text` into it, as a user would. */
export async function fill(page: Page, selector: string, text: string): Promise<void> {
  await page.$eval(selector, (el) => {
    const input = el as HTMLInputElement;
    input.focus();
    input.select();
  });
  await page.keyboard.press('Backspace');
  if (text !== '') await page.type(selector, text);
}
