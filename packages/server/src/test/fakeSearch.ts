import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A local SearXNG-compatible search service for tests: `GET /search?q=…&format=json` answers
 * `{ results: [{ title, url, content }] }` with three results about the query. Options in the
 * query, as for the fake provider: "[delay=MS]" waits before answering, "[status=CODE]" fails,
 * "[many]" answers 50 results with long snippets. `aborted` lists the queries whose request was
 * closed before it was answered (a stopped answer, a timeout).
 */
export interface FakeSearch {
  url: string;
  queries: string[];
  aborted: string[];
  close(): Promise<void>;
}

export async function startFakeSearch(): Promise<FakeSearch> {
  const sockets = new Set<Socket>();
  const state: FakeSearch = { url: '', queries: [], aborted: [], close: async () => {} };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/search' || url.searchParams.get('format') !== 'json') {
      res.writeHead(404).end();
      return;
    }
    const q = url.searchParams.get('q') ?? '';
    state.queries.push(q);
    const status = /\[status=(\d+)\]/.exec(q);
    if (status) {
      res.writeHead(Number(status[1])).end('error');
      return;
    }
    const delay = Number(/\[delay=(\d+)\]/.exec(q)?.[1] ?? 0);
    let answered = false;
    res.on('close', () => {
      if (!answered) state.aborted.push(q);
    });
    const topic = q.replace(/\[[^\]]*\]/g, '').trim();
    const count = q.includes('[many]') ? 50 : 3;
    const results = Array.from({ length: count }, (_, i) => ({
      title: `Result ${i + 1} about ${topic}`,
      url: `https://example.org/${encodeURIComponent(topic)}/${i + 1}`,
      content: q.includes('[many]') ? 'x'.repeat(2000) : `Snippet ${i + 1} on ${topic}.`,
      engine: 'fake',
    }));
    results.push({ title: 'not a web address', url: 'javascript:alert(1)', content: 'dropped', engine: 'fake' });
    setTimeout(() => {
      if (res.destroyed) return;
      answered = true;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ query: q, results }));
    }, delay);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}
