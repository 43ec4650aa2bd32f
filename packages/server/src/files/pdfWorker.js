// PDF text extraction in a thread of its own: see extractPdfText in text.ts, the only user of this
// file, which says why. Plain JavaScript because a worker thread runs it as it is, both from the
// sources (tests, `npm run dev`) and from the bundle (`npm start`, see build.mjs).
//
// workerData: { bytes: Uint8Array, maxPages, maxChars }. Posts { page: text } for each page read,
// in order, then { done: true, numPages }. The parent keeps what arrived if it stops the thread.
import { parentPort, workerData } from 'node:worker_threads';
import { getDocumentProxy } from 'unpdf';

const port = parentPort;
if (!port) throw new Error('pdfWorker.js runs as a worker thread');

const { bytes, maxPages, maxChars } = workerData;
const pdf = await getDocumentProxy(bytes);
try {
  const pages = Math.min(pdf.numPages, maxPages);
  let chars = 0;
  // One page at a time (not all at once): a PDF of thousands of pages must not be loaded whole.
  for (let i = 1; i <= pages && chars < maxChars; i++) {
    const page = await pdf.getPage(i);
    const content = await page.getTextContent();
    const text = content.items
      .filter((item) => item.str != null)
      .map((item) => item.str + (item.hasEOL ? '\n' : ''))
      .join('');
    page.cleanup();
    chars += text.length + 1;
    port.postMessage({ page: text });
  }
  port.postMessage({ done: true, numPages: pdf.numPages });
} finally {
  await pdf.destroy();
}
