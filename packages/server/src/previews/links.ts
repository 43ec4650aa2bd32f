import { LinkifyIt } from 'linkify-it';

/** The link detection of the web app's Markdown (markdown-it's linkify-it); only links with a scheme count here. */
const linkify = new LinkifyIt({ fuzzyEmail: false });

/** Longest link that is previewed (longer ones are left alone). */
export const MAX_LINK_LENGTH = 2048;

/**
 * The first http(s) link of a message's text, as the web app shows it as a link, or null. Links
 * in code (fenced blocks and `inline code`) are not links there, so they are skipped here too; so
 * are links without a scheme (`example.com`) and any other scheme.
 */
export function firstLink(content: string): string | null {
  if (!content || !/https?:\/\//i.test(content)) return null;
  const text = content.replace(/```[\s\S]*?(```|$)/g, ' ').replace(/`[^`\n]*`/g, ' ');
  for (const match of linkify.match(text) ?? []) {
    const schema = match.schema.toLowerCase();
    if (schema !== 'http:' && schema !== 'https:') continue;
    if (match.url.length > MAX_LINK_LENGTH) continue;
    return match.url;
  }
  return null;
}
