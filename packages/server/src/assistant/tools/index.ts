import type { Message } from '@confab/protocol';
import type { ToolSet } from 'ai';
import { z } from 'zod';
import { loadAiSdk } from '../../ai/sdk.ts';
import type { Context } from '../../context.ts';
import { resolveImageModel } from '../../operations/ai.ts';
import { ToolClock, ToolFailure, withinTime } from './guard.ts';
import { generateImageAttachment, IMAGES_PER_ANSWER } from './image.ts';
import { McpHub } from './mcp.ts';
import { webSearch } from './webSearch.ts';

export { ToolCallLog } from './calls.ts';

/**
 * The tools answers may call (docs/ai.md, "Tools"), through the AI SDK's tool calling: `web_search`
 * (CONFAB_SEARCH_URL), `generate_image` (CONFAB_IMAGE_MODEL) and the tools of the MCP servers
 * admins configured (CONFAB_MCP_<ID>_*), named `<id>__<tool>`. One per node: it holds the MCP
 * connections, closed with the assistant.
 */
export class ToolHost {
  private readonly mcp: McpHub;

  constructor(private readonly ctx: Context) {
    this.mcp = new McpHub(ctx.config.ai.tools?.mcpServers ?? [], ctx.log);
  }

  /** Model requests one answer may make (1: no tools). */
  get maxSteps(): number {
    return this.ctx.config.ai.tools?.maxSteps ?? 1;
  }

  /**
   * The tools offered to one answer, or undefined when there are none. Each call is bounded in time
   * (guard.ts) and fails with an error the model sees, never with an exception out of the answer.
   */
  async forAnswer(answer: Message, requestedBy: string): Promise<ToolSet | undefined> {
    const { ctx } = this;
    const cfg = ctx.config.ai.tools;
    if (!cfg || cfg.maxSteps < 2) return undefined;
    const { tool, dynamicTool, jsonSchema } = await loadAiSdk();
    const clock = new ToolClock(cfg.callTimeoutMs, cfg.answerBudgetMs);
    const unexpected = (name: string) => (error: unknown) => ctx.log.warn({ err: error, tool: name, messageId: answer.id }, 'a tool call failed unexpectedly');
    const tools: ToolSet = {};

    const searchUrl = cfg.searchUrl;
    if (searchUrl) {
      tools.web_search = tool({
        description: 'Search the web. Returns the top results, each with a title, its address and a snippet. Use it for recent events and facts you are not sure of; cite the addresses you use.',
        inputSchema: z.object({ query: z.string().min(1).max(400).describe('what to search for') }),
        execute: ({ query }, { abortSignal }) => withinTime('The web search', clock, abortSignal, (signal) => webSearch(searchUrl, query, cfg.searchResults, signal), unexpected('web_search')),
      });
    }

    const imageModel = cfg.imageModel ? await resolveImageModel(ctx, requestedBy).catch(() => undefined) : undefined;
    if (imageModel) {
      let drawn = 0;
      tools.generate_image = tool({
        description: `Draw a picture from a description. The picture is attached to your answer, where the user sees it; do not repeat it in your text. At most ${IMAGES_PER_ANSWER} per answer.`,
        inputSchema: z.object({ prompt: z.string().min(1).max(4000).describe('a detailed description of the picture') }),
        execute: ({ prompt }, { abortSignal }) =>
          withinTime(
            'Drawing the picture',
            clock,
            abortSignal,
            (signal) => {
              if (drawn >= IMAGES_PER_ANSWER) throw new ToolFailure(`An answer may draw at most ${IMAGES_PER_ANSWER} pictures.`);
              return generateImageAttachment(ctx, answer, imageModel, prompt, ++drawn, signal);
            },
            unexpected('generate_image'),
          ),
      });
    }

    if (this.mcp.configured) {
      for (const t of await this.mcp.tools()) {
        tools[t.name] = dynamicTool({
          description: t.description,
          inputSchema: jsonSchema(t.inputSchema),
          execute: (input, { abortSignal }) => withinTime(`The tool "${t.tool}" of MCP server "${t.server}"`, clock, abortSignal, (signal) => t.call(input, signal), unexpected(t.name)),
        });
      }
    }
    return Object.keys(tools).length > 0 ? tools : undefined;
  }

  async close(): Promise<void> {
    await this.mcp.close();
  }
}
