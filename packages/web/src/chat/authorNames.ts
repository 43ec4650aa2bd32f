import type { Conversation } from '@confab/client';
import { useUserNames } from '../admin/common.tsx';
import { ASSISTANT_ID, memberName } from '../conversations/helpers.ts';

/**
 * The name to show for a message's author. Members are named from the conversation; an author who
 * is not a member (someone who left, or the people of a group whose messages a branch copied:
 * docs/ai.md, Branches) is looked up once by their public profile instead of showing "Someone".
 */
export function useAuthorName(conversation: Conversation | null, authorId: string, me: string): string {
  const known = authorId === me || authorId === ASSISTANT_ID || !conversation || conversation.members.some((m) => m.userId === authorId);
  const names = useUserNames(known ? [] : [authorId]);
  return names.get(authorId)?.displayName ?? memberName(conversation, authorId, me);
}
