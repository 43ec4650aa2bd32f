import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Logger } from 'pino';
import type { McpServerConfig } from '../../config.ts';
import { ToolFailure } from './guard.ts';

/** A tool of an MCP server, as the model is offered it. */
export interface McpTool {
  server: string;
  /** Its name on its server. */
  tool: string;
  /** What the model calls it: `<server id>__<tool>`, within the providers' 64 characters of [A-Za-z0-9_-]. */
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

/** A tool list is asked for again after this long (servers may add tools). */
const LIST_TTL_MS = 60_000;
/** After a failed connection, the server is not tried again for this long: answers do not each wait for it. */
const RETRY_AFTER_MS = 30_000;
/** Connecting and listing tools must fit in this; a slow server is left out of that answer. */
const CONNECT_TIMEOUT_MS = 5_000;
/** What one call's text may give the model. */
const RESULT_CHARS = 20_000;

export const mcpToolName = (server: string, tool: string) => `${server}__${tool}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);

/**
 * One configured MCP server (config.ts, CONFAB_MCP_<ID>_*): connected on first use and kept, its
 * tool list cached, reconnected after its connection closes. The SDK loads on first use (like the
 * AI SDK: most servers never need it at start-up).
 */
class McpServer {
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private tools: McpTool[] = [];
  private listedAt = 0;
  private failedAt = 0;
  private closed = false;

  constructor(
    readonly config: McpServerConfig,
    private readonly log: Logger,
  ) {}

  /** Where it runs, for errors and logs (never a token or an environment). */
  private get label(): string {
    return `MCP server "${this.config.id}"`;
  }

  private async connect(): Promise<Client> {
    if (this.client) return this.client;
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<Client> {
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const client = new Client({ name: 'confab', version: '1' });
    const c = this.config;
    let transport;
    if (c.transport === 'stdio') {
      const { StdioClientTransport, getDefaultEnvironment } = await import('@modelcontextprotocol/sdk/client/stdio.js');
      // Only PATH, HOME and the like, plus its own _ENV: never the server's secrets.
      transport = new StdioClientTransport({ command: c.command, args: c.args, env: { ...getDefaultEnvironment(), ...c.env }, stderr: 'inherit' });
    } else {
      const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
      transport = new StreamableHTTPClientTransport(new URL(c.url), c.token ? { requestInit: { headers: { authorization: `Bearer ${c.token}` } } } : {});
    }
    client.onerror = (error) => this.log.warn({ err: error, mcpServer: c.id }, 'MCP server connection error');
    client.onclose = () => {
      if (this.client === client) this.client = undefined;
    };
    try {
      await client.connect(transport, { timeout: CONNECT_TIMEOUT_MS });
    } catch (error) {
      await client.close().catch(() => {});
      throw error;
    }
    if (this.closed) {
      await client.close().catch(() => {});
      throw new ToolFailure(`The ${this.label} is shutting down.`);
    }
    this.client = client;
    return client;
  }

  /**
   * Its tools, from the cache when fresh. A server that cannot be reached keeps the tools it had
   * (a call then fails with a clear error the model sees) and is not tried again for a while.
   */
  async listTools(): Promise<McpTool[]> {
    const now = Date.now();
    if (now - this.listedAt < LIST_TTL_MS || now - this.failedAt < RETRY_AFTER_MS) return this.tools;
    try {
      const client = await this.connect();
      const listed: McpTool[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : {}, { timeout: CONNECT_TIMEOUT_MS });
        for (const t of page.tools) {
          if (this.config.tools && !this.config.tools.includes(t.name)) continue;
          listed.push({
            server: this.config.id,
            tool: t.name,
            name: mcpToolName(this.config.id, t.name),
            description: (t.description ?? t.title ?? t.name).slice(0, 1024),
            inputSchema: t.inputSchema as Record<string, unknown>,
          });
        }
        cursor = page.nextCursor;
      } while (cursor && listed.length < 200);
      this.tools = listed;
      this.listedAt = Date.now();
    } catch (error) {
      this.failedAt = Date.now();
      this.log.warn({ err: error, mcpServer: this.config.id }, 'MCP server could not be reached; its tools are left out for now');
    }
    return this.tools;
  }

  /** Calls one of its tools; the text of what it returns goes to the model. */
  async call(tool: string, input: unknown, signal: AbortSignal): Promise<string> {
    let client: Client;
    try {
      client = await this.connect();
    } catch {
      this.failedAt = Date.now();
      throw new ToolFailure(`The ${this.label} could not be reached, so its tool "${tool}" could not be used.`);
    }
    let result;
    try {
      // The SDK sends the server a cancellation when the signal fires (a stop, or the call's time).
      result = await client.callTool({ name: tool, arguments: (input ?? {}) as Record<string, unknown> }, undefined, { signal, timeout: 24 * 3_600_000 });
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
      const message = error instanceof Error ? error.message : String(error);
      if (/closed|ECONNREFUSED|fetch failed|not connected/i.test(message)) {
        throw new ToolFailure(`The ${this.label} could not be reached, so its tool "${tool}" could not be used.`);
      }
      throw new ToolFailure(`The ${this.label} refused the call of "${tool}": ${message.slice(0, 300)}`);
    }
    const text = resultText(result as { content?: unknown; structuredContent?: unknown; toolResult?: unknown });
    if ((result as { isError?: boolean }).isError) throw new ToolFailure(`The tool "${tool}" of the ${this.label} failed: ${text.slice(0, 500)}`);
    return text;
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client ?? (await this.connecting?.catch(() => undefined));
    this.client = undefined;
    await client?.close().catch(() => {});
  }
}

/** The text parts of a tool's result (images and other media are named, not sent), cut to RESULT_CHARS. */
function resultText(result: { content?: unknown; structuredContent?: unknown; toolResult?: unknown }): string {
  const parts: string[] = [];
  if (Array.isArray(result.content)) {
    for (const p of result.content as Array<{ type?: string; text?: string; mimeType?: string; resource?: { text?: string; uri?: string } }>) {
      if (p.type === 'text' && typeof p.text === 'string') parts.push(p.text);
      else if (p.type === 'resource' && typeof p.resource?.text === 'string') parts.push(p.resource.text);
      else if (p.type === 'resource_link' || p.type === 'resource') parts.push(`[resource ${p.resource?.uri ?? ''}]`);
      else parts.push(`[${p.type ?? 'content'}${p.mimeType ? ` ${p.mimeType}` : ''} not shown]`);
    }
  }
  if (parts.length === 0 && result.structuredContent !== undefined) parts.push(JSON.stringify(result.structuredContent));
  if (parts.length === 0 && result.toolResult !== undefined) parts.push(JSON.stringify(result.toolResult));
  const text = parts.join('\n');
  return text.length > RESULT_CHARS ? `${text.slice(0, RESULT_CHARS)}… (cut)` : text;
}

/** Every configured MCP server of this node. */
export class McpHub {
  private readonly servers: McpServer[];

  constructor(configs: McpServerConfig[], log: Logger) {
    this.servers = configs.map((c) => new McpServer(c, log));
  }

  get configured(): boolean {
    return this.servers.length > 0;
  }

  /** The tools of every server that answers (or answered lately), listed side by side. */
  async tools(): Promise<Array<McpTool & { call: (input: unknown, signal: AbortSignal) => Promise<string> }>> {
    const lists = await Promise.all(this.servers.map(async (s) => (await s.listTools()).map((t) => ({ ...t, call: (input: unknown, signal: AbortSignal) => s.call(t.tool, input, signal) }))));
    return lists.flat();
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close()));
  }
}
