/**
 * The one mention parser. The AI runner (does a group message ask the assistant?) and
 * notifications (was this member mentioned?) must agree, or a message could wake the assistant
 * while telling nobody it was addressed.
 *
 * `@handle` counts as a word of its own: at the start, after whitespace, or after punctuation that
 * cannot be part of an address. It does not count inside an email (`bob@assistant.com`,
 * `a.@assistant`), inside a longer handle (`@assistant-bot`, `@assistant2`, `@@assistant`) or as a
 * domain (`@assistant.com`). A trailing full stop is punctuation, not part of the handle.
 */

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether `content` mentions `@handle` (case-insensitive). */
export function mentions(content: string, handle: string): boolean {
  return new RegExp(`(^|[^\\w@.-])@${escapeRegExp(handle)}(?![\\w-]|\\.[\\w-])`, 'i').test(content);
}
