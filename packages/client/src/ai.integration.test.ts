/**
 * Streaming AI answers through the SDK, against a real server and a fake OpenAI-compatible provider.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../../server/src/test/fakeOpenAI.ts';
import { registerUser, startTestServer, type TestServer } from '../../server/src/test/harness.ts';
import { createClient, type ConfabClient } from './client.ts';
import type { ChatMessage } from './types.ts';

const MODEL = 'openai:test-model';
let fake: FakeOpenAI;
let server: TestServer;
const clients: ConfabClient[] = [];

beforeAll(async () => {
  fake = await startFakeOpenAI({ defaultDelayMs: 2 });
  server = await startTestServer({ ai: testAiConfig(fake.url, [MODEL], { checkpointMs: 100 }) });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.close();
  await fake?.close();
});

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('AI answers in watchMessages', () => {
  it('streams the text piece by piece, each once, also to a client that starts mid-answer', async () => {
    const alice = await registerUser(server, 'alice');
    const sdk = () => {
      const c = createClient({ url: server.url });
      clients.push(c);
      c.setSession({ accessToken: alice.accessToken, refreshToken: alice.refreshToken });
      return c;
    };
    const first = sdk();
    await first.idle();
    const conv = await first.createAssistant({ model: MODEL });
    const seen: ChatMessage[][] = [];
    first.watchMessages(conv.id, (l) => seen.push(l));
    const answerOf = (l: ChatMessage[] | undefined) => l?.find((m) => m.authorId !== alice.id && m.kind !== 'system');
    await first.send(conv.id, { content: '[tokens=60] [delay=15]' }).settled;
    await until('the answer streams', () => (answerOf(seen.at(-1))?.content.length ?? 0) > 20);

    // A second client (a reload, another device) joins in the middle of the answer.
    const late = sdk();
    const lateSeen: ChatMessage[][] = [];
    late.watchMessages(conv.id, (l) => lateSeen.push(l));
    await until('done', () => answerOf(seen.at(-1))?.status === 'complete' && answerOf(lateSeen.at(-1))?.status === 'complete');

    const full = Array.from({ length: 60 }, (_, i) => `t${i} `).join('');
    for (const views of [seen, lateSeen]) {
      const texts = views.map(answerOf).filter((m): m is ChatMessage => m !== undefined).map((m) => m.content);
      expect(texts.at(-1)!.trim()).toBe(full.trim());
      // Every intermediate text is a prefix of the answer: no piece shown twice, none skipped.
      for (const t of texts) expect(full.startsWith(t) || t.trim() === full.trim()).toBe(true);
      // And it grew in several steps (it streamed).
      expect(new Set(texts).size).toBeGreaterThan(3);
    }
    expect(first.getConversation(conv.id)?.generating).toBe(false);
  });

  it('stops an answer and regenerates it', async () => {
    const bob = await registerUser(server, 'bob');
    const client = createClient({ url: server.url });
    clients.push(client);
    client.setSession({ accessToken: bob.accessToken, refreshToken: bob.refreshToken });
    await client.idle();
    const conv = await client.createAssistant({ model: MODEL });
    let latest: ChatMessage[] = [];
    client.watchMessages(conv.id, (l) => (latest = l));
    const answer = () => latest.find((m) => m.authorId === 'assistant');
    await client.send(conv.id, { content: '[tokens=400] [delay=15]' }).settled;
    await until('the answer streams', () => (answer()?.content.length ?? 0) > 10);
    await client.stopAnswer(answer()!.id!);
    await until('stopped', () => answer()?.status === 'stopped');
    const stoppedText = answer()!.content;
    expect(stoppedText.length).toBeLessThan(400 * 4);
    fake.mode = { delayMs: 0 };
    try {
      const again = await client.regenerate(answer()!.id!);
      expect(again.status).toBe('streaming');
      await until('regenerated', () => answer()?.status === 'complete');
      expect(answer()!.id).toBe(again.id);
      expect(answer()!.content).toBe(Array.from({ length: 400 }, (_, i) => `t${i} `).join(''));
    } finally {
      fake.mode = undefined;
    }
  });
});
