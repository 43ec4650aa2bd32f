/**
 * THE mention parser's grammar (docs/mentions.md). The server's `operations/mentions.ts` parses
 * every message with it (what a message stores in `mentions`, the AI trigger, notifications), and
 * clients use the same function to find the `@…` they highlight, so both always agree on what is a
 * mention.
 *
 * `@handle` counts as a word of its own: at the start, after whitespace, or after punctuation that
 * cannot be part of an address or a path. It does not count inside an email (`bob@assistant.com`,
 * `a.@assistant`), inside a longer handle (`@assistant-bot`, `@assistant2`, `@@assistant`), as a
 * domain (`@assistant.com`), in a URL's path (`https://x.example/@carol`), or inside code (an
 * inline code span or a fenced block). A trailing full stop is punctuation, not part of the handle.
 * Handles compare case-insensitively; `@here` and `@channel` name groups (no user may take them).
 */

/** One `@…` of a text: where it is (`start` at the `@`, `end` after the handle) and the handle, lower-cased. */
export interface MentionToken {
  start: number;
  end: number;
  handle: string;
}

/** Fenced code blocks (``` or ~~~, to their closing fence or the end) and inline code spans. */
const CODE = /(^|\n)[ \t]*(```|~~~)[^\n]*\n[\s\S]*?(?:\n[ \t]*\2[^\n]*(?=\n|$)|$)|(`+)[^`]*?\3/g;
/** `@` where a mention may start, and the run of handle characters after it. */
const TOKEN = /(^|[^\w@.\-/])@([A-Za-z0-9_.-]+)/g;

/** The code of `content` blanked out (same length, so positions hold), so nothing inside code counts. */
function withoutCode(content: string): string {
  if (!content.includes('`') && !content.includes('~~~')) return content;
  return content.replace(CODE, (m) => m.replace(/[^\n]/g, ' '));
}

/** Every `@handle` of `content` that the grammar above counts, in order (repeats included). */
export function mentionTokens(content: string): MentionToken[] {
  // The common case costs one scan: most messages mention no one.
  if (!content.includes('@')) return [];
  const tokens: MentionToken[] = [];
  for (const match of withoutCode(content).matchAll(TOKEN)) {
    // "@carol." and "@carol..." end a sentence; "@carol.com" is a domain, "@carol-" nobody.
    const handle = match[2]!.replace(/\.+$/, '');
    if (handle.length === 0) continue;
    const start = match.index + match[1]!.length;
    tokens.push({ start, end: start + 1 + handle.length, handle: handle.toLowerCase() });
  }
  return tokens;
}

/** Handles that mention groups rather than a person. */
export const GROUP_MENTIONS = ['here', 'channel'] as const;
