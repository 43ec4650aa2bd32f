import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmac64 } from '../crypto/keyring.ts';
import { legacyQueryTerms, legacySearchTerms, queryTerms, searchTerms, words } from './terms.ts';

describe('blind index terms', () => {
  const key = randomBytes(32);
  const terms = ['cafe', 'ca', 'caf', 'and', 'an', 'naive', 'na', 'nai', 'naiv', '2026', '20', '202'];

  it('hashes each folded word and its prefixes from 2 characters with the conversation, sorted, the same with or without the cache', () => {
    expect(words('Café, CAFE and naïve-2026!')).toEqual(['cafe', 'cafe', 'and', 'naive', '2026']);
    const expected = terms.map((t) => hmac64(key, `conv1\u0000${t}`)).sort();
    expect(searchTerms(key, 'conv1', 'Café, CAFE and naïve-2026!')).toEqual(expected);
    // Second call comes from the cache: identical.
    expect(searchTerms(key, 'conv1', 'Café, CAFE and naïve-2026!')).toEqual(expected);
  });

  it('matches query words as prefixes within a conversation; conversations and keys never share hashes', () => {
    const stored = new Set(searchTerms(key, 'c1', 'Deploying Zanzibar tomorrow'));
    expect(queryTerms(key, 'c1', 'zanz DEPLOY').every((t) => stored.has(t))).toBe(true);
    expect(queryTerms(key, 'c1', 'zanzibarx').every((t) => stored.has(t))).toBe(false);
    // The same words in another conversation: no hash in common.
    expect(searchTerms(key, 'c2', 'Deploying Zanzibar tomorrow').some((t) => stored.has(t))).toBe(false);
    expect(queryTerms(key, 'c2', 'zanz').some((t) => stored.has(t))).toBe(false);
    expect(searchTerms(randomBytes(32), 'c1', 'Deploying').some((t) => stored.has(t))).toBe(false);
    // The longest query word comes first (the search narrows by it).
    expect(queryTerms(key, 'c1', 'to zanzibar dep')[0]).toBe(hmac64(key, 'c1\u0000zanzibar'));
  });

  it('keeps the version 1 hashes (one key, word order) for rows written before migration 8', () => {
    expect(legacySearchTerms(key, 'Café, CAFE and naïve-2026!')).toEqual(terms.map((t) => hmac64(key, t)));
    expect(legacyQueryTerms(key, 'naive caf')).toEqual([hmac64(key, 'naive'), hmac64(key, 'caf')]);
  });
});
