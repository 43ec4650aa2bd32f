import { hmac64 } from '../crypto/keyring.ts';

/**
 * Search over encrypted messages uses a blind index: each word of a message, and each of its
 * prefixes from 2 characters, is stored as a keyed hash (HMAC-SHA-256 truncated to 64 bits) in
 * `messages.search_terms`, a GIN-indexed bigint[]. A query is hashed the same way and matched with
 * `search_terms @> query_terms`, so every query word matches as a prefix ("conf" finds "Confab").
 *
 * Index version 2 (migration 8) hashes the conversation id with each term, as if each conversation
 * had a key of its own: the same word in two conversations gives two unrelated hashes, so a reader
 * of the database cannot link conversations by the words they share. The hashes of a message are
 * stored sorted, not word by word, so the order does not show where one word's prefixes end and
 * the next word begins. What a reader still learns is in docs/security.md.
 * Version 1 (one global key, in word order) is kept for rows not yet re-indexed.
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

/**
 * Hashing every word and prefix of every message was a large share of the server's CPU in the send
 * benchmarks (docs/benchmarks.md). Chat vocabulary is Zipfian, so a bounded cache of term → hash (per key) serves most
 * terms; the output is identical. Cleared when full rather than LRU-ordered: simpler, and a refill
 * costs only what the cache saves.
 */
const CACHE_LIMIT = 50_000;
const caches = new WeakMap<Buffer, Map<string, string>>();

function hashTerm(key: Buffer, input: string): string {
  let cache = caches.get(key);
  if (!cache) caches.set(key, (cache = new Map()));
  let hash = cache.get(input);
  if (hash === undefined) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(input, (hash = hmac64(key, input)));
  }
  return hash;
}

/** The word and prefix terms of a text, before hashing. */
function termsOf(text: string): string[] {
  const terms = new Set<string>();
  for (const word of words(text)) {
    terms.add(word);
    for (let n = 2; n < Math.min(word.length, MAX_PREFIX + 1); n++) terms.add(word.slice(0, n));
    if (terms.size >= MAX_TERMS) break;
  }
  return [...terms].slice(0, MAX_TERMS);
}

/** The distinct query words, longest first (the most selective one leads: operations/search.ts uses it to narrow). */
const queryWords = (query: string) => [...new Set(words(query).map((w) => w.slice(0, MAX_PREFIX)))].sort((a, b) => b.length - a.length);

/** Conversation ids are made of [A-Za-z0-9_-]: the separator cannot occur in one, so inputs never collide. */
const scoped = (conversationId: string, term: string) => `${conversationId}\u0000${term}`;

/** The hashes stored for a message of `conversationId` (index version 2), sorted. */
export function searchTerms(key: Buffer, conversationId: string, text: string): string[] {
  return termsOf(text)
    .map((t) => hashTerm(key, scoped(conversationId, t)))
    .sort();
}

/** The hashes a message of `conversationId` must contain to match a query, longest word first; every query word as a prefix. */
export function queryTerms(key: Buffer, conversationId: string, query: string): string[] {
  return queryWords(query).map((t) => hashTerm(key, scoped(conversationId, t)));
}

/** Index version 1 (before migration 8): one key for every conversation, hashes in word order. */
export function legacySearchTerms(key: Buffer, text: string): string[] {
  return termsOf(text).map((t) => hashTerm(key, t));
}

export function legacyQueryTerms(key: Buffer, query: string): string[] {
  return queryWords(query).map((t) => hashTerm(key, t));
}
