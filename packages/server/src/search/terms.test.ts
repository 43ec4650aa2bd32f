import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmac64 } from '../crypto/keyring.ts';
import { queryTerms, searchTerms, words } from './terms.ts';

describe('blind index terms', () => {
  const key = randomBytes(32);

  it('hashes each folded word and its prefixes from 2 characters, the same with or without the cache', () => {
    expect(words('Café, CAFE and naïve-2026!')).toEqual(['cafe', 'cafe', 'and', 'naive', '2026']);
    const expected = ['cafe', 'ca', 'caf', 'and', 'an', 'naive', 'na', 'nai', 'naiv', '2026', '20', '202'].map((t) => hmac64(key, t));
    expect(searchTerms(key, 'Café, CAFE and naïve-2026!')).toEqual(expected);
    // Second call comes from the cache: identical.
    expect(searchTerms(key, 'Café, CAFE and naïve-2026!')).toEqual(expected);
  });

  it('matches query words as prefixes, and keys never share hashes', () => {
    const stored = new Set(searchTerms(key, 'Deploying Zanzibar tomorrow'));
    expect(queryTerms(key, 'zanz DEPLOY').every((t) => stored.has(t))).toBe(true);
    expect(queryTerms(key, 'zanzibarx').every((t) => stored.has(t))).toBe(false);
    expect(searchTerms(randomBytes(32), 'Deploying')[0]).not.toBe(searchTerms(key, 'Deploying')[0]);
  });
});
