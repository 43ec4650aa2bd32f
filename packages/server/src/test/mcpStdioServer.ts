// A tiny MCP server over stdio for tests (see mcpServers.ts): `node --import tsx mcpStdioServer.ts`.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { buildTestMcpServer } from './mcpServers.ts';

await buildTestMcpServer({ calls: [], aborted: [] }).connect(new StdioServerTransport());
