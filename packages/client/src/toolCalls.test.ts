import type { ToolCall } from '@confab/protocol';
import { describe, expect, it } from 'vitest';
import { Store } from './store.ts';
import { FakeClock, conversation, message } from './test/fakes.ts';

const call = (id: string, status: ToolCall['status'], extra: Partial<ToolCall> = {}): ToolCall => ({ id, name: 'web_search', input: { query: 'q' }, status, startedAt: '2026-01-01T00:00:00.000Z', ...extra });

describe('tool calls of a streaming answer (ai:tool)', () => {
  it('shows live calls over the synced ones, never moving a finished call back to running', () => {
    const store = new Store(new FakeClock());
    store.me = 'u-me';
    store.upsertConversation(conversation({ id: 'c1' }), { startWindowAtEnd: true });
    // Joined mid-answer: the sync gave the first call, still running.
    store.applyMessage(message({ id: 'ai', conversationId: 'c1', seq: 1, content: '', status: 'streaming', streamIndex: 0, toolCalls: [call('a', 'running')] }));
    const tool = (c: ToolCall) => store.aiTool({ conversationId: 'c1', messageId: 'ai', call: c });
    tool(call('a', 'done', { output: { results: [] }, endedAt: '2026-01-01T00:00:01.000Z' }));
    tool(call('a', 'running')); // an older event, late
    tool(call('b', 'running'));
    expect(store.messages('c1')[0]!.toolCalls).toEqual([call('a', 'done', { output: { results: [] }, endedAt: '2026-01-01T00:00:01.000Z' }), call('b', 'running')]);
    tool(call('b', 'error', { error: 'The search service could not be reached.' }));
    expect(store.messages('c1')[0]!.toolCalls!.map((c) => c.status)).toEqual(['done', 'error']);
    // The end: the stored message's calls are what is shown.
    store.applyMessage(message({ id: 'ai', conversationId: 'c1', seq: 1, updatedSeq: 2, content: 'x', status: 'complete', toolCalls: [call('a', 'done'), call('b', 'error')] }));
    store.aiDone({ conversationId: 'c1', messageId: 'ai', status: 'complete', content: 'x' });
    expect(store.messages('c1')[0]!.toolCalls!.map((c) => c.status)).toEqual(['done', 'error']);
  });
});
