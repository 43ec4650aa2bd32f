/** @confab/client: Confab's typed client SDK. See docs/sdk.md. */
export { createClient, ConfabClient, type ClientOptions, type ClientEvents, type MessagesWatch, type MessagesMeta, type ThreadWatch, type ThreadsWatch } from './client.ts';
export type { ThreadView, FollowedThreadsView } from './threads.ts';
export { onMainLine } from './store.ts';
export { memoryStorage } from './storage/memory.ts';
export { fileStorage } from './storage/file.ts';
export { indexedDbStorage } from './storage/indexeddb.ts';
export { createBackoff, type Backoff, type BackoffOptions } from './backoff.ts';
export { LiveQuery } from './query.ts';
export type { PinsState } from './pins.ts';
export type { SocketFactory, SocketLike, SocketOptions, Transport } from './connection.ts';
export type { TokenProvider } from './session.ts';
export type { FetchLike } from './rest.ts';
export { RestApi, REST_ROUTES } from './api.ts';
export { verifyWebhookSignature } from './webhooks.ts';
export {
  mayMentionEveryone,
  mentionQueryAt,
  mentionSegments,
  mentionSuggestions,
  type MentionQuery,
  type MentionSegment,
  type MentionsState,
  type MentionsWatch,
  type MentionSuggestion,
} from './mentions.ts';
export { systemClock } from './types.ts';
export type {
  ChatMessage,
  Clock,
  ConnectionState,
  OutgoingMessage,
  Presence,
  SendInput,
  SendState,
  Storage,
  StoredMessage,
  UnsentMessage,
  Unsubscribe,
} from './types.ts';
// The contract's error class and wire types, so apps need one import.
export { ConfabError } from '@confab/protocol';
export type { Channel, ChannelList, Conversation, ErrorCode, ErrorPayload, Me, Member, Message, PublicUser, ThreadFollow, ThreadListItem, ThreadSummary, Visibility } from '@confab/protocol';
