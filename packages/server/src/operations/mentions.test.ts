import { describe, expect, it } from 'vitest';
import { mentions, parseMentions } from './mentions.ts';

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
    // Handles hold only letters, digits, _ . - (RegisterBody): "+" ends one.
    expect(mentions('hi @a+b', 'a')).toBe(true);
    expect(mentions('hi @a+b', 'a+b')).toBe(false);
  });
});

describe('parseMentions', () => {
  it.each([
    ['@carol,', ['carol']],
    ['(@carol)', ['carol']],
    ['@carol.', ['carol']],
    ['@carol...', ['carol']],
    ['@Carol @CAROL @carol', ['carol']],
    ['@carol.smith is here', ['carol.smith']],
    ['a@b.c', []],
    ['email@carol.com', []],
    ['@carolyn', ['carolyn']],
    ['@carol-', ['carol-']],
    ['https://example.com/@carol', []],
    ['`@carol`', []],
    ['say `x` to @carol', ['carol']],
    ['``@carol``', []],
    ['```\n@carol\n```\n@dave', ['dave']],
    ['~~~js\n@carol\n~~~', []],
    ['```\nunclosed @carol', []],
    ['@', []],
    ['@.', []],
  ])('%j → %j', (content, handles) => {
    expect(parseMentions(content).handles).toEqual(handles);
  });

  it('finds @here and @channel as groups, not handles', () => {
    expect(parseMentions('@here and @channel')).toEqual({ handles: [], here: true, channel: true });
    expect(parseMentions('@Here!')).toEqual({ handles: [], here: true, channel: false });
    expect(parseMentions('@channels @there x@channel `@channel`')).toEqual({ handles: ['channels', 'there'], here: false, channel: false });
  });

  it('looks up at most 50 handles per message', () => {
    const content = Array.from({ length: 80 }, (_, i) => `@user${i}`).join(' ');
    expect(parseMentions(content).handles).toHaveLength(50);
  });
});
