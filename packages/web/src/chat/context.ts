import type { ChatMessage, Conversation } from '@confab/client';
import { createContext, useContext } from 'react';
import type { AiControls } from './ai.ts';

/** What every message row of the open conversation needs, shared instead of passed down. */
export interface ChatContextValue {
  conversation: Conversation | null;
  me: string;
  canModerate: boolean;
  ai: AiControls;
  editingKey: string | null;
  startEdit: (m: ChatMessage) => void;
  stopEdit: () => void;
  reply: (m: ChatMessage) => void;
  jumpTo: (messageId: string) => void;
  byId: Map<string, ChatMessage>;
  /** Opens the thread of a message (threads/ThreadPanel.tsx); absent inside a thread. */
  openThread?: (m: ChatMessage) => void;
}

export const ChatContext = createContext<ChatContextValue | null>(null);

export function useChat(): ChatContextValue {
  const v = useContext(ChatContext);
  if (!v) throw new Error('useChat outside ChatContext');
  return v;
}
