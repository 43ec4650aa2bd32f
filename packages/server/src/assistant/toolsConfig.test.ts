import { describe, expect, it } from 'vitest';
import { loadConfig, mcpServers } from '../config.ts';

describe('tool configuration (CONFAB_SEARCH_URL, CONFAB_IMAGE_MODEL, CONFAB_MCP_<ID>_*)', () => {
  it('reads MCP servers over stdio and HTTP, in the order of their ids', () => {
    expect(
      mcpServers({
        CONFAB_MCP_FILES_COMMAND: 'npx',
        CONFAB_MCP_FILES_ARGS: '["-y","some-mcp-server","/srv/docs"]',
        CONFAB_MCP_FILES_ENV: '{"API_KEY":"k"}',
        CONFAB_MCP_DOCS_URL: 'https://mcp.example.com/mcp',
        CONFAB_MCP_DOCS_TOKEN: 'secret-token',
        CONFAB_MCP_DOCS_TOOLS: 'search, fetch',
        CONFAB_MCP_EMPTY_URL: '',
      }),
    ).toEqual([
      { id: 'docs', tools: ['search', 'fetch'], transport: 'http', url: 'https://mcp.example.com/mcp', token: 'secret-token' },
      { id: 'files', tools: undefined, transport: 'stdio', command: 'npx', args: ['-y', 'some-mcp-server', '/srv/docs'], env: { API_KEY: 'k' } },
    ]);
    expect(mcpServers({})).toEqual([]);
  });

  it('stops on a mistake, naming the variable and never showing a value', () => {
    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ CONFAB_MCP_DOCS_URLS: 'https://x' }, /CONFAB_MCP_DOCS_URLS is not an MCP server variable/],
      [{ CONFAB_MCP_DOCS_TOKEN: 'secret-value' }, /MCP server DOCS needs CONFAB_MCP_DOCS_URL .* or CONFAB_MCP_DOCS_COMMAND/],
      [{ CONFAB_MCP_DOCS_URL: 'https://x', CONFAB_MCP_DOCS_COMMAND: 'npx' }, /not both/],
      [{ CONFAB_MCP_DOCS_URL: 'ftp://x' }, /CONFAB_MCP_DOCS_URL must be an http\(s\) URL/],
      [{ CONFAB_MCP_DOCS_COMMAND: 'npx', CONFAB_MCP_DOCS_ARGS: 'secret-value' }, /CONFAB_MCP_DOCS_ARGS must be a JSON array of strings/],
      [{ CONFAB_MCP_DOCS_COMMAND: 'npx', CONFAB_MCP_DOCS_ENV: '{"KEY":1,"x":"secret-value"}' }, /CONFAB_MCP_DOCS_ENV must be a JSON object of strings/],
      [{ CONFAB_MCP_DOCS_COMMAND: 'npx', CONFAB_MCP_DOCS_TOKEN: 'secret-value' }, /_TOKEN goes with _URL/],
    ];
    for (const [env, message] of bad) {
      let error: Error | undefined;
      try {
        mcpServers(env);
      } catch (e) {
        error = e as Error;
      }
      expect(error?.message, JSON.stringify(Object.keys(env))).toMatch(message);
      expect(error!.message).not.toContain('secret-value');
    }
  });

  it('reads the search endpoint, the image model and the bounds; an image model must be OpenAI-compatible', () => {
    const config = loadConfig({
      CONFAB_SEARCH_URL: 'http://searx.internal:8080',
      CONFAB_SEARCH_RESULTS: '8',
      CONFAB_IMAGE_MODEL: 'openai:gpt-image-1',
      CONFAB_AI_MAX_STEPS: '3',
      CONFAB_AI_TOOL_TIMEOUT_MS: '10000',
      CONFAB_AI_TOOLS_TIME_MS: '60000',
    });
    expect(config.ai.tools).toEqual({ searchUrl: 'http://searx.internal:8080', searchResults: 8, imageModel: 'openai:gpt-image-1', mcpServers: [], maxSteps: 3, callTimeoutMs: 10_000, answerBudgetMs: 60_000 });
    expect(() => loadConfig({ CONFAB_IMAGE_MODEL: 'anthropic:claude' })).toThrow(/CONFAB_IMAGE_MODEL must be an OpenAI-compatible image model/);
    expect(() => loadConfig({ CONFAB_AI_MAX_STEPS: '50' })).toThrow(/CONFAB_AI_MAX_STEPS must be a whole number of steps \(at most 20\)/);
  });
});
