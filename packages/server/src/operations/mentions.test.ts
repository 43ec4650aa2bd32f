import { describe, expect, it } from 'vitest';
import { mentions } from './mentions.ts';

describe('mentions', () => {
  it.each([
    // Counts: at the start, after whitespace or punctuation, before punctuation or the end.
    ['@assistant', true],
    ['@assistant hello', true],
    ['hello @assistant', true],
    ['hello\n@assistant', true],
    ['@Assistant, what is this?', true],
    ['ask @assistant.', true],
    ['ask @assistant...', true],
    ['(@assistant)', true],
    ['"@assistant"', true],
    ['hi,@assistant', true],
    ['@assistant: hi', true],
    ['@assistant!', true],
    ['@assistant\'s answer', true],
    // Does not count: inside an email, a longer handle, or a domain.
    ['@assistant-bot', false],
    ['@assistant_bot', false],
    ['@assistant2', false],
    ['@assistants', false],
    ['a.@assistant', false],
    ['a-@assistant', false],
    ['bob@assistant', false],
    ['bob@assistant.com', false],
    ['@assistant.com', false],
    ['@@assistant', false],
    ['assistant', false],
    ['', false],
  ])('%j → %s', (content, expected) => {
    expect(mentions(content, 'assistant')).toBe(expected);
  });

  it('treats the handle literally, not as a pattern', () => {
    expect(mentions('hi @a.b', 'a.b')).toBe(true);
    expect(mentions('hi @axb', 'a.b')).toBe(false);
    expect(mentions('hi @a+b', 'a+b')).toBe(true);
  });
});
