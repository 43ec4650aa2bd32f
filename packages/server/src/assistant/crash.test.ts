import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, ok, until, waitFor } from '../realtime/test/kit.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../test/fakeOpenAI.ts';
import { Api, registerUser } from '../test/harness.ts';
import { startServerProcess } from '../test/processes.ts';

describe('a node crash mid-answer', () => {
  let fake: FakeOpenAI;
  let dataDir: string;
  beforeAll(async () => {
    fake = await startFakeOpenAI();
    dataDir = mkdtempSync(path.join(tmpdir(), 'confab-crash-'));
  });
  afterAll(async () => {
    await fake?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('closes the answer as error with the text so far on restart; the question is kept and regenerate works', async () => {
    const env = { DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '', OPENAI_BASE_URL: fake.url, CONFAB_MODELS: 'openai:test-model', CONFAB_RATE_LIMITS: 'off', CONFAB_REGISTRATION: 'open' };
    const first = startServerProcess(env);
    const url = await first.url;
    const user = await registerUser({ url }, 'crash');
    const conv = (await user.api.post('/api/conversations/assistant', { model: 'openai:test-model' })).body.id as string;
    await user.api.post('/api/messages', { conversationId: conv, content: '[tokens=400][delay=10] crash me', clientId: 'q1' });
    // Some pieces in, then long enough for a checkpoint (every 500 ms) or two, far from the end of
    // the answer. (Waiting for pieces, not a fixed time: on a loaded machine the first piece can
    // take over a second, as the provider SDK loads on first use.)
    await until(
      async () => {
        const messages: Message[] = (await user.api.get(`/api/messages/${conv}`)).body.messages ?? [];
        return (messages.find((m) => m.authorId === 'assistant')?.streamIndex ?? 0) >= 10;
      },
      30_000,
      'ten pieces of the answer',
    );
    await new Promise((r) => setTimeout(r, 1200));
    first.child.kill('SIGKILL');
    await first.exited;

    const second = startServerProcess(env);
    try {
      const url2 = await second.url;
      const login = await new Api(url2).post('/api/auth/login', { email: user.user.email, password: 'correct horse battery' });
      const accessToken = login.body.accessToken as string;
      const api = new Api(url2, accessToken);
      const messages: Message[] = (await api.get(`/api/messages/${conv}`)).body.messages;
      const question = messages.find((m) => m.clientId === 'q1')!;
      const answer = messages.find((m) => m.authorId === 'assistant')!;
      expect(question.content).toBe('[tokens=400][delay=10] crash me');
      expect(answer.status).toBe('error');
      expect(answer.statusReason).toMatch(/interrupted because the server restarted/);
      // The checkpointed text survived: some pieces, not all of them.
      expect(answer.content).toMatch(/^t0 t1 /);
      expect(answer.content.length).toBeLessThan(400 * 4);
      expect(messages.filter((m) => m.authorId === 'assistant')).toHaveLength(1);
      expect((await api.get(`/api/conversations/${conv}`)).body.generating).toBe(false);

      const socket = await connect(url2, accessToken);
      try {
        const ended = waitFor(socket, 'ai:done', (e) => e.messageId === answer.id, 20_000);
        fake.mode = { delayMs: 0 };
        await ok(socket, 'ai:regenerate', { messageId: answer.id });
        expect(await ended).toMatchObject({ status: 'complete' });
      } finally {
        fake.mode = undefined;
        socket.close();
      }
    } finally {
      await second.stop();
    }
  });
});
