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

  it('gives the same hashes from its per-word cache as hashing every term, for any text', () => {
    // The definition, written out: every word and its prefixes from 2 to 16 characters, each once, the first 512, hashed, sorted.
    const reference = (conversationId: string, text: string) => {
      const all = new Set<string>();
      for (const word of text.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
        all.add(word);
        for (let n = 2; n < Math.min(word.length, 17); n++) all.add(word.slice(0, n));
        if (all.size >= 512) break;
      }
      return [...all].slice(0, 512).map((t) => hmac64(key, `${conversationId}\u0000${t}`)).sort();
    };
    const long = Array.from({ length: 80 }, (_, i) => `word${i}abcdefghijklmnopqrstuvwxyz`).join(' ');
    const texts = [
      'the this that these', 'Repeat repeat REPEAT', 'a b c', '', '!!! ???', 'x'.repeat(40), 'Ünïcödé ẞtraße ΑΘΗΝΑ 東京 ok',
      'tab\tnew\nline 0123456789 MiXeD', long, `${long} ${long}`, 'e\u0301cole école', '\u{1F600} emoji 😀 smile',
    ];
    for (const text of texts) {
      expect(searchTerms(key, 'c9', text)).toEqual(reference('c9', text));
      // Again, from the cache.
      expect(searchTerms(key, 'c9', text)).toEqual(reference('c9', text));
    }
    // Every printable ASCII character: the ASCII path splits words as Unicode's does.
    const ascii = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
    expect(words(ascii)).toEqual(ascii.normalize('NFKD').toLowerCase().match(/[\p{L}\p{N}]+/gu));
  });
});
