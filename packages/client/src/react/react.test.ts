// @vitest-environment jsdom
import { act, cleanup, render } from '@testing-library/react';
import { createElement, type ReactNode } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../client.ts';
import { memoryStorage } from '../storage/memory.ts';
import { FakeClock, FakeServer, conversation, fakeJwt, settle } from '../test/fakes.ts';
import { ConfabProvider, useConnection, useConversations, useMessages, useSend, useTyping } from './index.ts';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
afterEach(cleanup);

async function setup() {
  const server = new FakeServer();
  server.addConversation(conversation({ id: 'c1' }));
  server.addConversation(conversation({ id: 'c2' }));
  const clock = new FakeClock();
  const client = createClient({
    url: 'http://fake',
    fetch: server.fetch,
    socketFactory: server.socketFactory,
    clock,
    storage: memoryStorage(),
    crossTab: false,
  });
  client.setSession({ accessToken: fakeJwt('u-me', Math.floor(clock.now() / 1000) + 900), refreshToken: 'u-me:r0' });
  await act(async () => {
    await client.idle();
  });
  return { server, client, clock };
}

describe('React bindings', () => {
  it('re-render only when their slice changes, once per burst', async () => {
    const { server, client } = await setup();
    const renders = { messages: 0, typing: 0, conversations: 0, connection: 0 };
    let send: ((content: string) => unknown) | null = null;
    let shown: string[] = [];
    function Messages() {
      renders.messages++;
      const { messages } = useMessages('c1');
      const s = useSend('c1');
      send = s;
      shown = messages.map((m) => `${m.content}:${m.sendState ?? '-'}`);
      return null;
    }
    function Typing() {
      renders.typing++;
      useTyping('c1');
      return null;
    }
    function Conversations() {
      renders.conversations++;
      useConversations();
      return null;
    }
    function Status() {
      renders.connection++;
      return createElement('span', { 'data-testid': 'state' }, useConnection());
    }
    const tree = (children: ReactNode[]) => createElement(ConfabProvider, { client }, ...children);
    const view = render(tree([createElement(Messages, { key: 1 }), createElement(Typing, { key: 2 }), createElement(Conversations, { key: 3 }), createElement(Status, { key: 4 })]));
    expect(view.getByTestId('state').textContent).toBe('online');
    await act(async () => {
      await settle();
    });
    const base = { ...renders };

    // 100 messages in one burst: one re-render of the messages view, one of the list, none of typing.
    await act(async () => {
      for (let i = 0; i < 100; i++) server.store('c1', 'u-other', `m${i}`);
      await settle();
    });
    expect(shown.length).toBe(100);
    expect(renders.messages - base.messages).toBe(1);
    expect(renders.conversations - base.conversations).toBe(1);
    expect(renders.typing - base.typing).toBe(0);
    expect(renders.connection - base.connection).toBe(0);

    // Changes elsewhere re-render nothing here but the conversation list.
    const mid = { ...renders };
    await act(async () => {
      server.store('c2', 'u-other', 'elsewhere');
      await settle();
    });
    expect(renders.messages).toBe(mid.messages);
    expect(renders.conversations).toBe(mid.conversations + 1);

    // Sending: the pending message, then the stored one.
    const before = renders.messages;
    server.holdAcks = true;
    await act(async () => {
      send!('mine');
      await settle();
    });
    expect(shown.at(-1)).toBe('mine:pending');
    await act(async () => {
      server.holdAcks = false;
      server.release();
      await settle();
    });
    expect(shown.at(-1)).toBe('mine:sent');
    expect(renders.messages - before).toBe(2);
    await client.close();
  });
});
