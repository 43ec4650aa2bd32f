import { ASSISTANT_ID } from '../conversations/helpers.ts';

/**
 * The assistant as a member of a conversation: while it writes an answer there, the server
 * reports it as typing (`chat:user_typing` with the assistant's id, refreshed until the answer
 * ends), and the app says "answering" where it says "typing" for people. A streaming answer in
 * the list means the same (it covers the moments after a reconnect, before the next refresh).
 */
export function assistantAnswering(typing: readonly string[], streamingAuthorId: string | null | undefined): boolean {
  return typing.includes(ASSISTANT_ID) || streamingAuthorId === ASSISTANT_ID;
}

/** People typing (by name) and the assistant answering, in one line; null when nobody is. */
export function activityText(typingNames: string[], answering: boolean): string | null {
  const people = typingText(typingNames);
  if (!answering) return people;
  return people ? `Assistant is answering… · ${people}` : 'Assistant is answering…';
}

function typingText(names: string[]): string | null {
  if (names.length === 0) return null;
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}
