import { describe, expect, it } from 'vitest';
import { makePdf, markedPages } from '../test/pdf.ts';
import { extractPdfText } from './text.ts';

const roomy = { maxPages: 1000, timeoutMs: 60_000 };

describe('PDF text extraction', () => {
  it('reads every page of a PDF within the limits', async () => {
    const got = await extractPdfText(makePdf(markedPages(3)), 10_000, roomy);
    expect(got.complete).toBe(true);
    expect(got.text).toContain('page 1 marker');
    expect(got.text).toContain('page 3 marker');
  });

  it('stops at the page limit and at the character limit, keeping what it read', async () => {
    const pages = await extractPdfText(makePdf(markedPages(30)), 10_000, { ...roomy, maxPages: 10 });
    expect(pages.complete).toBe(false);
    expect(pages.text).toContain('page 10 marker');
    expect(pages.text).not.toContain('page 11 marker');

    const chars = await extractPdfText(makePdf(markedPages(30)), 40, roomy);
    expect(chars.complete).toBe(false);
    expect(chars.text).toHaveLength(40);
  });

  it('rejects a file that is not a PDF', async () => {
    await expect(extractPdfText(Buffer.from('not a pdf at all'), 1000, roomy)).rejects.toThrow();
  });

  it('does not hold the event loop while a slow PDF is read, and stops at the time limit', async () => {
    // Thousands of pages: seconds of parsing, which on the server's own thread held every
    // request and socket for the whole time.
    const bytes = makePdf(markedPages(6000));
    let last = performance.now();
    let longestGap = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
    }, 10);
    const started = performance.now();
    try {
      const got = await extractPdfText(bytes, 1_000_000, { maxPages: 100_000, timeoutMs: 1000 });
      const took = performance.now() - started;
      // A loop held the whole time never ran the ticker at all: count the time since its last tick.
      longestGap = Math.max(longestGap, performance.now() - last);
      expect(got.complete).toBe(false);
      expect(got.text).not.toContain('page 6000 marker');
      // Stopped at the limit (generous slack for a loaded machine), not when the file ended.
      expect(took).toBeLessThan(1000 + 3000);
      expect(longestGap).toBeLessThan(1000);
    } finally {
      clearInterval(ticker);
    }
  });
});
