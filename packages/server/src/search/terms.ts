import { hmac64 } from '../crypto/keyring.ts';

/**
 * Search over encrypted messages uses a blind index: each word of a message, and each of its
 * prefixes from 2 characters, is stored as a keyed hash (HMAC-SHA-256 truncated to 64 bits) in
 * `messages.search_terms`, a GIN-indexed bigint[]. A query is hashed the same way and matched with
 * `search_terms @> query_terms`, so every query word matches as a prefix ("conf" finds
 * "Confab"). Someone holding only the database sees which messages share a word, never the words.
 */
const MAX_TERMS = 512;
const MAX_PREFIX = 16;

export function words(text: string): string[] {
  return (
    text
      .normalize('NFKD')
      .replace(/\p{M}+/gu, '')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

export function searchTerms(key: Buffer, text: string): string[] {
  const terms = new Set<string>();
  for (const word of words(text)) {
    terms.add(word);
    for (let n = 2; n < Math.min(word.length, MAX_PREFIX + 1); n++) terms.add(word.slice(0, n));
    if (terms.size >= MAX_TERMS) break;
  }
  return [...terms].slice(0, MAX_TERMS).map((t) => hmac64(key, t));
}

/** The hashes a message must contain to match a query; every query word as a prefix. */
export function queryTerms(key: Buffer, query: string): string[] {
  return [...new Set(words(query).map((w) => w.slice(0, MAX_PREFIX)))].map((t) => hmac64(key, t));
}
