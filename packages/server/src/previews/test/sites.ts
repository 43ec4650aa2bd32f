import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small local web site for link-preview tests (tests reach only loopback). `hits` counts the
 * requests it got, `hosts` the Host headers they carried; `close` ends it and its connections.
 */
export interface Site {
  port: number;
  host: string;
  hits: number;
  hosts: string[];
  close(): Promise<void>;
}

export async function startSite(handler: (req: IncomingMessage, res: ServerResponse) => void, host = '127.0.0.1'): Promise<Site> {
  const server = http.createServer((req, res) => {
    site.hits++;
    site.hosts.push(String(req.headers.host));
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const site: Site = {
    port: (server.address() as AddressInfo).port,
    host,
    hits: 0,
    hosts: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return site;
}

/** A page with Open Graph tags. */
export function ogPage(fields: { title?: string; description?: string; siteName?: string; image?: string }, filler = ''): string {
  const meta = (p: string, v?: string) => (v === undefined ? '' : `<meta property="${p}" content="${v}">`);
  return `<!doctype html><html><head><title>Fallback title</title>${meta('og:title', fields.title)}${meta('og:description', fields.description)}${meta('og:site_name', fields.siteName)}${meta('og:image', fields.image)}</head><body>${filler}</body></html>`;
}

/**
 * Writes `total` bytes of `chunk` with back-pressure, then `tail` and the end (if the reader is
 * still there); resolves with how many bytes were handed to the socket before it closed.
 */
export function writeMany(res: ServerResponse, chunk: Buffer, total: number, tail = ''): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    let closed = false;
    res.once('close', () => {
      closed = true;
      resolve(sent);
    });
    const pump = () => {
      while (!closed && sent < total) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
        sent += piece.length;
        if (!res.write(piece)) {
          res.once('drain', pump);
          return;
        }
      }
      if (!closed && sent >= total) res.end(tail);
    };
    pump();
  });
}
