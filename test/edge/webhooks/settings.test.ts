// The production webhook retry schedule against what the docs promise: its span (first attempt to last retry) is the
// "about 3 days" of docs/API.md and docs/reliability.md — read from the docs, not from the constant — and the delays
// never shrink (a backoff).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRODUCTION_RETRY_SCHEDULE_S } from '../../../edge/webhooks/settings.ts';
import { REPO_ROOT } from '../../helpers/cli.ts';

const WORDS: Record<string, number> = { two: 2, three: 3, four: 4, five: 5 };

/** The "spanning about N days" / "spans about N days" figure of a doc, in days. */
function documentedDays(doc: string): number {
  const text = readFileSync(join(REPO_ROOT, doc), 'utf8');
  const m = /webhook schedule spann?(?:ing|s) about (\d+|two|three|four|five) days/i.exec(text) ?? /schedule spanning about (\d+|two|three|four|five) days/i.exec(text);
  expect(m, `${doc} states the webhook schedule's span`).not.toBeNull();
  return WORDS[m![1]!.toLowerCase()] ?? Number(m![1]);
}

describe('PRODUCTION_RETRY_SCHEDULE_S', () => {
  it('spans what the docs say (about N days: within half a day of N days, and no less than N days)', () => {
    const spanDays = PRODUCTION_RETRY_SCHEDULE_S.reduce((a, b) => a + b, 0) / 86_400;
    for (const doc of ['docs/API.md', 'docs/reliability.md']) {
      const days = documentedDays(doc);
      expect(days, doc).toBe(3);
      // "About 3 days" read as a promise to a receiver that is down: the last retry comes no earlier than 3 days
      // after the first attempt, and not much later (half a day).
      expect(spanDays, doc).toBeGreaterThanOrEqual(days);
      expect(spanDays, doc).toBeLessThan(days + 0.5);
    }
  });

  it('is a backoff: delays never shrink, the first retry comes within a minute', () => {
    expect(PRODUCTION_RETRY_SCHEDULE_S[0]).toBeLessThanOrEqual(60);
    for (let i = 1; i < PRODUCTION_RETRY_SCHEDULE_S.length; i++) {
      expect(PRODUCTION_RETRY_SCHEDULE_S[i]).toBeGreaterThanOrEqual(PRODUCTION_RETRY_SCHEDULE_S[i - 1]!);
    }
  });
});
