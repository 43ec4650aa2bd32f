// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from './markdown.ts';
import { mentionMarks } from './mentionMarks.ts';

/** Mentions in rendered messages: only what the server stored, never in code or link text, escaped. */
const member = (userId: string, handle: string) => ({ userId, role: 'member' as const, joinedAt: '', lastReadSeq: 0, lastDeliveredSeq: 0, user: { id: userId, handle, displayName: handle, avatarUrl: null, isBot: false, lastSeenAt: null } });
const conversation = { members: [member('me', 'me'), member('u-bob', 'Bob'), member('u-eve', 'eve')] } as never;

const spans = (html: string) => [...new DOMParser().parseFromString(html, 'text/html').querySelectorAll('span.mention')].map((s) => [s.className, s.textContent]);

describe('mention highlighting', () => {
  it('marks stored mentions, the reader\'s own apart, and leaves the rest as text', () => {
    const marks = mentionMarks({ authorId: 'u-eve', mentions: ['me', 'u-bob'], mentionsHere: false, mentionsChannel: false }, conversation, 'me');
    const html = renderMarkdown('hi @bob, **@me** and @eve; `@bob` [@bob](https://x.example) @channel', false, marks);
    expect(spans(html)).toEqual([
      ['mention', '@bob'],
      ['mention mention-me', '@me'],
    ]);
  });

  it('marks @here / @channel only when they took effect, as the reader\'s own', () => {
    const marks = mentionMarks({ authorId: 'u-eve', mentions: [], mentionsHere: false, mentionsChannel: true }, conversation, 'me');
    expect(spans(renderMarkdown('@channel @here', false, marks))).toEqual([['mention mention-me mention-group', '@channel']]);
    expect(mentionMarks({ authorId: 'u-eve', mentions: [], mentionsHere: false, mentionsChannel: false }, conversation, 'me')).toBeUndefined();
  });

  it('does not render the same text alike for different marks (the cache keys on them)', () => {
    const text = 'ping @bob';
    const none = renderMarkdown(text);
    const marked = renderMarkdown(text, false, mentionMarks({ authorId: 'me', mentions: ['u-bob'], mentionsHere: false, mentionsChannel: false }, conversation, 'me'));
    expect(spans(none)).toEqual([]);
    expect(spans(marked)).toEqual([['mention', '@bob']]);
  });
});
