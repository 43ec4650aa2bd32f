import { ToolFailure } from './guard.ts';

/** What one search gives the model, for each result. */
export interface SearchResult {
  title: string;
  url: string;
  snippet: string;
}

/** Largest answer read from the search service; a SearXNG page of results is far smaller. */
const MAX_BYTES = 1024 * 1024;
const TITLE_CHARS = 200;
const SNIPPET_CHARS = 500;
const URL_CHARS = 2000;

/**
 * One search on a SearXNG-compatible endpoint: `GET <base>/search?q=…&format=json`, whose answer
 * has `results: [{ title, url, content }]`. At most `count` results, each cut to a title, an
 * http(s) address and a snippet of bounded length; the answer is read up to 1 MB. `signal` ends
 * the request (the answer stopped, the call's time ran out).
 */
export async function webSearch(base: string, query: string, count: number, signal: AbortSignal): Promise<{ results: SearchResult[] }> {
  const url = `${base.replace(/\/+$/, '')}/search?q=${encodeURIComponent(query)}&format=json`;
  let res: Response;
  try {
    res = await fetch(url, { signal, headers: { accept: 'application/json' }, redirect: 'error' });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new ToolFailure('The search service could not be reached.');
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new ToolFailure(`The search service answered with an error (${res.status}).`);
  }
  const body = await readBounded(res, MAX_BYTES, signal);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new ToolFailure('The search service did not answer with JSON (is it SearXNG with the json format enabled?).');
  }
  const raw = (parsed as { results?: unknown }).results;
  if (!Array.isArray(raw)) throw new ToolFailure('The search service answered without a list of results.');
  const results: SearchResult[] = [];
  for (const item of raw) {
    if (results.length >= count) break;
    const r = item as { title?: unknown; url?: unknown; content?: unknown };
    if (typeof r.url !== 'string' || !/^https?:\/\//i.test(r.url) || r.url.length > URL_CHARS) continue;
    results.push({
      title: typeof r.title === 'string' ? r.title.slice(0, TITLE_CHARS) : r.url,
      url: r.url,
      snippet: typeof r.content === 'string' ? r.content.slice(0, SNIPPET_CHARS) : '',
    });
  }
  return { results };
}

async function readBounded(res: Response, max: number, signal: AbortSignal): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > max) throw new ToolFailure('The search service answered with too much data.');
      chunks.push(value);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    if (signal.aborted || error instanceof ToolFailure) throw error;
    throw new ToolFailure('The search service cut its answer off.');
  }
  return Buffer.concat(chunks).toString('utf8');
}
