// Screenshots of the console's pages for docs/console/ (linked from the README), taken by the browser tests when
// CONSOLE_SCREENSHOTS is set (`npm run console:screenshots`). Reduced to a 64-colour palette PNG (sharp) so that the
// committed files stay small.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import sharp from 'sharp';
import { ROOT } from '../helpers/processes.ts';

export const SCREENSHOT_DIR = join(ROOT, 'docs/console');
export const screenshotsWanted = Boolean(process.env.CONSOLE_SCREENSHOTS);

/** Writes docs/console/<name>.png of the viewport (or the whole page) when screenshots are wanted. */
export async function screenshot(page: Page, name: string, opts: { fullPage?: boolean } = {}): Promise<void> {
  if (!screenshotsWanted) return;
  // No caret blinking or hover effects in the picture.
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const raw = await page.screenshot({ type: 'png', fullPage: opts.fullPage ?? false, captureBeyondViewport: false });
  const small = await sharp(Buffer.from(raw)).png({ palette: true, colours: 64, compressionLevel: 9, effort: 10 }).toBuffer();
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  writeFileSync(join(SCREENSHOT_DIR, `${name}.png`), small);
}
