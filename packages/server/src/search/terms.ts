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

/** Plain ASCII text (most chat): NFKD leaves it as it is, and it has no combining marks. */
const ASCII = /^[\x00-\x7f]*$/;

export function words(text: string): string[] {
  // The same words either way; the ASCII path skips ICU's normalization, a good part of a send's cost.
  if (ASCII.test(text)) return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  return (
    text
      .normalize('NFKD')
      .replace(/\p{M}+/gu, '')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

/** A word's terms: the word itself and its prefixes from 2 up to MAX_PREFIX characters. */
function wordTerms(word: string): string[] {
  const terms = [word];
  for (let n = 2; n < Math.min(word.length, MAX_PREFIX + 1); n++) terms.push(word.slice(0, n));
  return terms;
}

/** The word and prefix terms of a text, before hashing: in word order, each once, at most MAX_TERMS. */
function termsOf(text: string): string[] {
  const terms = new Set<string>();
  for (const word of words(text)) {
    for (const term of wordTerms(word)) terms.add(term);
    if (terms.size >= MAX_TERMS) break;
  }
  return [...terms].slice(0, MAX_TERMS);
}

/** The distinct query words, longest first (the most selective one leads: operations/search.ts uses it to narrow). */
const queryWords = (query: string) => [...new Set(words(query).map((w) => w.slice(0, MAX_PREFIX)))].sort((a, b) => b.length - a.length);

/** Conversation ids are made of [A-Za-z0-9_-]: the separator cannot occur in one, so inputs never collide. */
const scoped = (conversationId: string, term: string) => `${conversationId}\u0000${term}`;

/**
 * Hashing every word and prefix of every message was a large share of the server's CPU in the send
 * benchmarks (docs/benchmarks.md). Chat vocabulary is Zipfian, so a bounded cache serves most words:
 * per key and conversation, a word's hashes (its own and its prefixes'), so a message costs one
 * lookup per word instead of a hash or a lookup per term. The output is identical. Cleared when
 * full rather than LRU-ordered: simpler, and a refill costs only what the cache saves.
 */
const CACHE_WORDS = 20_000;
interface ConversationCache {
  /** A word's hashes: its own and its prefixes'. */
  words: Map<string, string[]>;
  /** A term's hash: a new word ("1234") mostly has prefixes seen before ("12", "123"). */
  terms: Map<string, string>;
}
interface WordCache {
  words: number;
  byConversation: Map<string, ConversationCache>;
}
const caches = new WeakMap<Buffer, WordCache>();

function conversationCache(key: Buffer, conversationId: string): ConversationCache {
  let cache = caches.get(key);
  if (!cache) caches.set(key, (cache = { words: 0, byConversation: new Map() }));
  if (cache.words >= CACHE_WORDS) {
    cache.byConversation.clear();
    cache.words = 0;
  }
  let ofConversation = cache.byConversation.get(conversationId);
  if (!ofConversation) cache.byConversation.set(conversationId, (ofConversation = { words: new Map(), terms: new Map() }));
  return ofConversation;
}

/** The hashes stored for a message of `conversationId` (index version 2), sorted. */
export function searchTerms(key: Buffer, conversationId: string, text: string): string[] {
  const list = words(text);
  const hash = (term: string) => hmac64(key, scoped(conversationId, term));
  // A word has at most MAX_PREFIX terms: only a text that might pass MAX_TERMS needs the exact cut.
  if (list.length * MAX_PREFIX > MAX_TERMS) return termsOf(text).map(hash).sort();
  const cache = conversationCache(key, conversationId);
  const termHash = (term: string) => {
    let h = cache.terms.get(term);
    if (h === undefined) cache.terms.set(term, (h = hash(term)));
    return h;
  };
  const all: string[] = [];
  for (const word of list) {
    let hashes = cache.words.get(word);
    if (hashes === undefined) {
      cache.words.set(word, (hashes = wordTerms(word).map(termHash)));
      caches.get(key)!.words++;
    }
    for (const h of hashes) all.push(h);
  }
  all.sort();
  // Words share terms ("the" and "this" share "th"; a repeated word): each hash once, as termsOf gives.
  return all.filter((h, i) => i === 0 || h !== all[i - 1]);
}

/** The hashes a message of `conversationId` must contain to match a query, longest word first; every query word as a prefix. */
export function queryTerms(key: Buffer, conversationId: string, query: string): string[] {
  return queryWords(query).map((t) => hmac64(key, scoped(conversationId, t)));
}

/** Index version 1 (before migration 8): one key for every conversation, hashes in word order. */
export function legacySearchTerms(key: Buffer, text: string): string[] {
  return termsOf(text).map((t) => hmac64(key, t));
}

export function legacyQueryTerms(key: Buffer, query: string): string[] {
  return queryWords(query).map((t) => hmac64(key, t));
}
