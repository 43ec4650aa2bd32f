/**
 * @confab/client/react: hooks over the client's live queries. Each hook reads one slice through
 * useSyncExternalStore, and a slice keeps its identity until it really changes, so a component
 * re-renders only when what it shows changed.
 */
import { createContext, createElement, useCallback, useContext, useEffect, useMemo, useState, useSyncExternalStore, type ReactNode } from 'react';
import type { ConfabClient } from '../client.ts';
import type { MentionsState, MentionsWatch } from '../mentions.ts';
import type { LiveQuery } from '../query.ts';
import type { PinsState } from '../pins.ts';
import type { ChatMessage, ConnectionState, OutgoingMessage, Presence, SendInput } from '../types.ts';
import type { FollowedThreadsView, ThreadView } from '../threads.ts';
import type { Conversation } from '@confab/protocol';

const ClientContext = createContext<ConfabClient | null>(null);

export function ConfabProvider({ client, children }: { client: ConfabClient; children?: ReactNode }) {
  return createElement(ClientContext.Provider, { value: client }, children);
}

export function useConfabClient(): ConfabClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useConfabClient: wrap the tree in <ConfabProvider client={client}>');
  return client;
}

function useLive<T>(query: LiveQuery<T>): T {
  return useSyncExternalStore(query.subscribe, query.get, query.get);
}

/** The caller's conversations: pinned first, then by last activity. */
export function useConversations(): Conversation[] {
  const client = useConfabClient();
  return useLive(client.conversationsQuery());
}

export interface UseMessagesResult {
  /** Oldest first; the caller's unsent messages last. */
  messages: ChatMessage[];
  loadOlder: () => Promise<void>;
  hasMore: boolean;
  loadingOlder: boolean;
}

/** A conversation's messages; the first page is fetched when fewer are held. */
export function useMessages(conversationId: string): UseMessagesResult {
  const client = useConfabClient();
  const messages = useLive(client.messagesQuery(conversationId));
  const meta = useLive(client.messagesMetaQuery(conversationId));
  useEffect(() => client.autoFill(conversationId), [client, conversationId]);
  const loadOlder = useCallback(() => client.loadOlder(conversationId), [client, conversationId]);
  return useMemo(
    () => ({ messages, loadOlder, hasMore: meta.hasMore, loadingOlder: meta.loadingOlder }),
    [messages, loadOlder, meta],
  );
}

export interface UseThreadResult extends ThreadView {
  loadOlder: () => Promise<void>;
}

/** One thread: its root and replies (the latest page fetched at once). */
export function useThread(conversationId: string, rootId: string): UseThreadResult {
  const client = useConfabClient();
  const view = useLive(client.threadQuery(conversationId, rootId));
  const loadOlder = useCallback(() => client.loadOlderReplies(conversationId, rootId), [client, conversationId, rootId]);
  return useMemo(() => ({ ...view, loadOlder }), [view, loadOlder]);
}

/** The caller's followed threads with their unread replies. */
export function useThreads(): FollowedThreadsView {
  const client = useConfabClient();
  return useLive(client.followedThreadsQuery());
}

/** User ids typing in the conversation (the caller excluded). */
export function useTyping(conversationId: string): string[] {
  const client = useConfabClient();
  return useLive(client.typingQuery(conversationId));
}

export function usePresence(userIds: readonly string[]): Record<string, Presence> {
  const client = useConfabClient();
  const key = userIds.join('\u0000');
  // Keyed by the ids' content, not the array's identity: `usePresence([a, b])` inline is fine.
  const query = useMemo(() => client.presenceQuery(userIds), [client, key]);
  return useLive(query);
}

/** A conversation's pinned messages (most recently pinned first), fetched on first use and kept live. */
export function usePins(conversationId: string): PinsState {
  const client = useConfabClient();
  return useLive(client.pinsQuery(conversationId));
}

export function useConnection(): ConnectionState {
  const client = useConfabClient();
  const get = useCallback(() => client.connection.state, [client]);
  return useSyncExternalStore(client.connection.subscribe, get, get);
}

/** A stable send function for one conversation; accepts the content alone or a full input. */
export function useSend(conversationId: string): (input: string | SendInput) => OutgoingMessage {
  const client = useConfabClient();
  return useCallback(
    (input: string | SendInput) => client.send(conversationId, typeof input === 'string' ? { content: input } : input),
    [client, conversationId],
  );
}

export interface UseMentionsResult extends MentionsState {
  loadMore: () => Promise<void>;
  refresh: () => Promise<void>;
}

/** The messages that mention the caller, newest first, kept live (client.watchMentions). */
export function useMentions(pageSize?: number): UseMentionsResult {
  const client = useConfabClient();
  const [state, setState] = useState<MentionsState>({ messages: [], loading: true, hasMore: false, error: null });
  const [watch, setWatch] = useState<MentionsWatch | null>(null);
  useEffect(() => {
    const w = client.watchMentions(setState, pageSize);
    setWatch(w);
    return () => w.unsubscribe();
  }, [client, pageSize]);
  const loadMore = useCallback(() => watch?.loadMore() ?? Promise.resolve(), [watch]);
  const refresh = useCallback(() => watch?.refresh() ?? Promise.resolve(), [watch]);
  return useMemo(() => ({ ...state, loadMore, refresh }), [state, loadMore, refresh]);
}
