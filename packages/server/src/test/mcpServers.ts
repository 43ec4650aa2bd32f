import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/**
 * Local MCP servers for tests, built with the MCP SDK's own McpServer: a program spoken to over
 * stdio (mcpStdioServer.ts, run with `node --import tsx`) and a streamable-HTTP server started in
 * the test. Both offer the same tools:
 *   echo {text}   → "echo: <text>"
 *   slow {ms}     → waits ms (or until the call is cancelled: `aborted` records it), then "slept <ms>"
 *   fail {}       → a tool error ("this tool always fails")
 */
export interface McpEvents {
  calls: string[];
  aborted: string[];
}

export function buildTestMcpServer(events: McpEvents): McpServer {
  const server = new McpServer({ name: 'confab-test-mcp', version: '1.0.0' });
  server.registerTool('echo', { description: 'Echoes the text back', inputSchema: { text: z.string() } }, async ({ text }) => {
    events.calls.push(`echo:${text}`);
    return { content: [{ type: 'text', text: `echo: ${text}` }] };
  });
  server.registerTool('slow', { description: 'Waits, then answers', inputSchema: { ms: z.number().int().min(0).max(60_000) } }, async ({ ms }, extra) => {
    events.calls.push(`slow:${ms}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      extra.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        events.aborted.push(`slow:${ms}`);
        resolve();
      });
    });
    return { content: [{ type: 'text', text: `slept ${ms}` }] };
  });
  server.registerTool('fail', { description: 'Always fails' }, async () => {
    events.calls.push('fail');
    return { isError: true, content: [{ type: 'text', text: 'this tool always fails' }] };
  });
  return server;
}

/** The stdio server's script, and the command that runs it (for CONFAB_MCP_<ID>_COMMAND/_ARGS). */
export const STDIO_MCP_SCRIPT = path.join(import.meta.dirname, 'mcpStdioServer.ts');
export const stdioMcpCommand = () => ({ command: process.execPath, args: ['--import', 'tsx', STDIO_MCP_SCRIPT] });

export interface HttpMcpServer extends McpEvents {
  url: string;
  /** Authorization headers of the requests received. */
  authorizations: (string | undefined)[];
  close(): Promise<void>;
}

/** A streamable-HTTP MCP server (sessions kept, so cancellations reach the call they cancel); `token` required as a bearer token when given. */
export async function startHttpMcpServer(opts: { token?: string } = {}): Promise<HttpMcpServer> {
  const events: McpEvents = { calls: [], aborted: [] };
  const authorizations: (string | undefined)[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const sockets = new Set<Socket>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    authorizations.push(req.headers.authorization);
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) {
      res.writeHead(401).end();
      return;
    }
    const sessionId = req.headers['mcp-session-id'];
    let transport = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    if (!transport) {
      const created = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => void sessions.set(id, created) });
      created.onclose = () => {
        if (created.sessionId) sessions.delete(created.sessionId);
      };
      await buildTestMcpServer(events).connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    ...events,
    authorizations,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    close: () =>
      new Promise((resolve) => {
        for (const t of sessions.values()) void t.close();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
