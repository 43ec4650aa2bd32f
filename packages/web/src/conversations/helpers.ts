import type { ChatMessage, Conversation, Member } from '@confab/client';
import { plainPreview } from '../lib/markdown.ts';

export const ASSISTANT_ID = 'assistant';

export function otherMembers(c: Conversation, me: string | null): Member[] {
  return c.members.filter((m) => m.userId !== me);
}

export function directPeer(c: Conversation, me: string | null): Member | null {
  return c.type === 'direct' ? (otherMembers(c, me)[0] ?? null) : null;
}

export function conversationTitle(c: Conversation, me: string | null): string {
  if (c.type === 'direct') return directPeer(c, me)?.user.displayName ?? 'Direct message';
  if (c.title) return c.title;
  if (c.type === 'assistant') return 'New AI chat';
  const names = otherMembers(c, me).map((m) => m.user.displayName);
  return names.length ? names.slice(0, 3).join(', ') + (names.length > 3 ? ` +${names.length - 3}` : '') : 'Group';
}

export function memberName(c: Conversation | null, userId: string, me: string | null): string {
  if (userId === me) return 'You';
  if (userId === ASSISTANT_ID) return 'Assistant';
  return c?.members.find((m) => m.userId === userId)?.user.displayName ?? 'Someone';
}

export function modelLabel(model: string | null | undefined): string {
  if (!model) return 'AI';
  const i = model.indexOf(':');
  return i >= 0 ? model.slice(i + 1) : model;
}

export function messagePreview(c: Conversation, me: string | null): string {
  const m = c.lastMessage;
  if (!m) return c.type === 'assistant' ? 'Ask anything' : 'No messages yet';
  if (m.deletedAt) return 'Message deleted';
  const who = m.authorId === me ? 'You: ' : c.type === 'group' && m.kind !== 'system' ? `${memberName(c, m.authorId, me)}: ` : '';
  if (m.kind === 'system') return plainPreview(m.content);
  let body = plainPreview(m.content, 90);
  if (!body && m.attachments.length) {
    const a = m.attachments[0]!;
    body = m.kind === 'voice' ? '🎤 Voice message' : a.type.startsWith('image/') ? '📷 Photo' : `📎 ${a.name}`;
  }
  if (m.status === 'error') body = 'The answer failed';
  return who + (body || '…');
}

export function isStored(m: ChatMessage): m is ChatMessage & { id: string; seq: number } {
  return m.id !== null;
}

export function messageKey(m: ChatMessage): string {
  return m.clientId ?? m.id ?? '';
}
