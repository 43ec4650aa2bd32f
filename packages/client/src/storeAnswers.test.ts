import { describe, expect, it } from 'vitest';
import { Store } from './store.ts';
import { FakeClock, conversation, message } from './test/fakes.ts';

// AI answers in the store's unread counts and typing (issue 22), as the server counts them: an
// answer that streams is not unread yet; it is, once, when it is finished.

function setup(over: Parameters<typeof conversation>[0] = { id: 'c1' }) {
  const store = new Store(new FakeClock());
  store.me = 'u-me';
  store.upsertConversation(conversation(over), { startWindowAtEnd: true });
  return store;
}

const answer = (over: Partial<Parameters<typeof message>[0]> & { seq: number }) =>
  message({ id: 'ans', conversationId: 'c1', authorId: 'assistant', status: 'streaming', content: '', ...over });

describe('AI answers and unread counts', () => {
  it('counts an answer once it is finished, not while it streams, and moves activity only then', () => {
    const store = setup();
    store.applyMessage(message({ id: 'q', conversationId: 'c1', seq: 1 }));
    const afterQuestion = store.getConversation('c1')!;
    expect(afterQuestion.unreadCount).toBe(1);
    store.applyMessage(answer({ seq: 2 }));
    const during = store.getConversation('c1')!;
    expect(during).toMatchObject({ unreadCount: 1, generating: true, lastActivityAt: afterQuestion.lastActivityAt });
    // Finished: the final state with the conversation's next seq.
    store.applyMessage(answer({ seq: 2, updatedSeq: 3, status: 'complete', content: 'hi' }));
    expect(store.getConversation('c1')!.unreadCount).toBe(2);
    // ai:done after it (same content): nothing more.
    store.aiDone({ conversationId: 'c1', messageId: 'ans', status: 'complete', content: 'hi' });
    expect(store.getConversation('c1')!.unreadCount).toBe(2);
    // A replay of the final state: nothing more.
    store.applyMessage(answer({ seq: 2, updatedSeq: 3, status: 'complete', content: 'hi' }));
    expect(store.getConversation('c1')!.unreadCount).toBe(2);
    // Reading up to the question leaves the answer unread; reading it, nothing.
    store.setOwnRead('c1', 1);
    expect(store.getConversation('c1')!.unreadCount).toBe(1);
    store.setOwnRead('c1', 2);
    expect(store.getConversation('c1')!.unreadCount).toBe(0);
  });

  it('does not count it again when the server already did (a list or sync taken after it finished)', () => {
    const store = setup();
    store.applyMessage(answer({ seq: 1 }));
    // A snapshot from after the end: the server's count has it, its lastSeq covers the end.
    store.upsertConversation({ ...store.getConversation('c1')!, unreadCount: 1, lastSeq: 2 });
    store.applyMessage(answer({ seq: 1, updatedSeq: 2, status: 'complete', content: 'x' }));
    expect(store.getConversation('c1')!.unreadCount).toBe(1);
  });

  it('leaves the count while regenerated, and comes back once', () => {
    const store = setup();
    store.applyMessage(answer({ seq: 1, updatedSeq: 1, status: 'complete', content: 'a' }));
    expect(store.getConversation('c1')!.unreadCount).toBe(1);
    store.applyMessage(answer({ seq: 1, updatedSeq: 2, status: 'streaming', content: '' }));
    expect(store.getConversation('c1')!.unreadCount).toBe(0);
    store.applyMessage(answer({ seq: 1, updatedSeq: 3, status: 'complete', content: 'b' }));
    expect(store.getConversation('c1')!.unreadCount).toBe(1);
  });

  it("counts the caller's own reading: an answer read while it streamed stays read", () => {
    const store = setup();
    store.applyMessage(answer({ seq: 1 }));
    store.setOwnRead('c1', 1);
    store.applyMessage(answer({ seq: 1, updatedSeq: 2, status: 'complete', content: 'x' }));
    expect(store.getConversation('c1')!.unreadCount).toBe(0);
  });

  it('counts it from ai:done when the final message_updated did not come first', () => {
    const store = setup();
    store.applyMessage(answer({ seq: 1 }));
    store.aiDone({ conversationId: 'c1', messageId: 'ans', status: 'complete', content: 'x' });
    expect(store.getConversation('c1')!.unreadCount).toBe(1);
    // The message_updated that follows: counted already.
    store.applyMessage(answer({ seq: 1, updatedSeq: 2, status: 'complete', content: 'x' }));
    expect(store.getConversation('c1')!.unreadCount).toBe(1);
  });

  it('counts an answer that finishes below the window (a device that started mid-answer), once', () => {
    // Listed mid-answer: the answer (seq 5) is the last message, below the window's floor (6).
    const streaming = answer({ seq: 5 });
    const store = setup({ id: 'c1', lastSeq: 5, unreadCount: 1, lastReadSeq: 3, lastMessage: streaming });
    store.applyMessage(streaming); // sync brings the streaming answer: not held, remembered
    const final = answer({ seq: 5, updatedSeq: 6, status: 'complete', content: 'done' });
    store.applyMessage(final);
    expect(store.getConversation('c1')).toMatchObject({ unreadCount: 2, lastMessage: final });
    store.applyMessage(final);
    expect(store.getConversation('c1')!.unreadCount).toBe(2);
    // One never seen streaming (the server's count already has it, if it is unread) adds nothing.
    store.applyMessage(message({ id: 'old', conversationId: 'c1', seq: 4, updatedSeq: 7, authorId: 'assistant' }));
    expect(store.getConversation('c1')!.unreadCount).toBe(2);
  });

  it('ends the assistant\'s "answering" with ai:done even if the typing event is lost', () => {
    const store = setup();
    store.applyMessage(answer({ seq: 1 }));
    store.userTyping({ conversationId: 'c1', userId: 'assistant', displayName: 'Assistant', isTyping: true });
    expect(store.typingUsers('c1')).toEqual(['assistant']);
    store.aiDone({ conversationId: 'c1', messageId: 'ans', status: 'complete', content: 'x' });
    expect(store.typingUsers('c1')).toEqual([]);
  });
});
