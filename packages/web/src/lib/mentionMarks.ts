import type { ChatMessage, Conversation } from '@confab/client';
import { mentionTokens } from '@confab/protocol';
import type { StateCore, Token } from 'markdown-it';

/**
 * Mentions highlighted in rendered messages (lib/markdown.ts and chat/MessageItem.tsx call these). Only what the server
 * stored as mentioned is marked: `@x` that names no member, a restricted `@channel`, or anything in
 * code stays plain text. The grammar is the server's own (`mentionTokens`).
 */
export interface MentionMarks {
  /** Part of the render cache key. */
  key: string;
  /** Lower-cased handle → whether it is the reader ('me') or someone else. */
  handles: Record<string, 'me' | 'other'>;
  here: boolean;
  channel: boolean;
  /** The reader is not the author: a group mention is theirs too. */
  groupIsMe: boolean;
}

/** The marks of a message for the reader `me`; undefined when it mentions no one (the common case). */
export function mentionMarks(m: Pick<ChatMessage, 'authorId' | 'mentions' | 'mentionsHere' | 'mentionsChannel'>, conversation: Conversation | null, me: string): MentionMarks | undefined {
  const ids = m.mentions ?? [];
  if (ids.length === 0 && !m.mentionsHere && !m.mentionsChannel) return undefined;
  const handles: Record<string, 'me' | 'other'> = {};
  for (const member of conversation?.members ?? []) {
    if (ids.includes(member.userId)) handles[member.user.handle.toLowerCase()] = member.userId === me && m.authorId !== me ? 'me' : 'other';
  }
  const here = m.mentionsHere === true;
  const channel = m.mentionsChannel === true;
  const groupIsMe = m.authorId !== me;
  const key = `${JSON.stringify(handles)}|${here ? 'h' : ''}${channel ? 'c' : ''}${groupIsMe ? 'g' : ''}`;
  return { key, handles, here, channel, groupIsMe };
}

/** The class of a mention's span, or null when `handle` is not a mention in this message. */
function classOf(handle: string, marks: MentionMarks): string | null {
  if ((handle === 'here' && marks.here) || (handle === 'channel' && marks.channel)) return marks.groupIsMe ? 'mention mention-me mention-group' : 'mention mention-group';
  const who = marks.handles[handle];
  if (!who) return null;
  return who === 'me' ? 'mention mention-me' : 'mention';
}

/**
 * A markdown-it core rule: splits the text tokens of inline content (not code, not link text) at
 * each mention in `env.mentions` into a `mention` token, which `renderMention` shows as a span.
 */
export function markMentions(state: StateCore): boolean {
  const marks = (state.env as { mentions?: MentionMarks }).mentions;
  if (!marks) return false;
  for (const block of state.tokens) {
    if (block.type !== 'inline' || !block.children) continue;
    const out: Token[] = [];
    let inLink = 0;
    for (const t of block.children) {
      if (t.type === 'link_open') inLink++;
      if (t.type === 'link_close') inLink--;
      if (t.type !== 'text' || inLink > 0 || !t.content.includes('@')) {
        out.push(t);
        continue;
      }
      let at = 0;
      for (const found of mentionTokens(t.content)) {
        const cls = classOf(found.handle, marks);
        if (!cls) continue;
        if (found.start > at) out.push(textToken(state, t.content.slice(at, found.start)));
        const span = new state.Token('mention', 'span', 0);
        span.content = t.content.slice(found.start, found.end);
        span.meta = { cls };
        out.push(span);
        at = found.end;
      }
      if (at === 0) out.push(t);
      else if (at < t.content.length) out.push(textToken(state, t.content.slice(at)));
    }
    block.children = out;
  }
  return false;
}

function textToken(state: StateCore, content: string): Token {
  const t = new state.Token('text', '', 0);
  t.content = content;
  return t;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The renderer rule of `mention` tokens. */
export function renderMention(tokens: Token[], idx: number): string {
  const t = tokens[idx]!;
  return `<span class="${escapeHtml(String((t.meta as { cls: string }).cls))}">${escapeHtml(t.content)}</span>`;
}
