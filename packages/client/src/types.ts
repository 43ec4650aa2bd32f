import type { ErrorPayload, Message } from '@confab/protocol';

/** Where a message of the caller's own stands. Messages of others carry none. */
export type SendState = 'pending' | 'sent' | 'failed';

/** A message the server has stored; the caller's own ones, once acknowledged, carry `sendState: 'sent'`. */
export type StoredMessage = Message & { readonly sendState?: 'sent'; readonly error?: undefined };

/**
 * The caller's own message that the server has not stored (yet): queued in the outbox, in flight,
 * or refused. It has no `id` or `seq` until stored; `clientId` identifies it meanwhile (use it as
 * the React key across the transition: the stored message keeps the same `clientId`).
 */
export interface UnsentMessage extends Omit<Message, 'id' | 'seq' | 'updatedSeq' | 'clientId'> {
  readonly id: null;
  readonly seq: null;
  readonly updatedSeq: null;
  readonly clientId: string;
  readonly sendState: 'pending' | 'failed';
  /** Why the server refused it (`sendState: 'failed'`). */
  readonly error?: ErrorPayload;
}

/** What `watchMessages` lists: stored messages in `seq` order, then the caller's unsent ones in send order. */
export type ChatMessage = StoredMessage | UnsentMessage;

/** What `send` returns: always the latest state of that message, plus a promise of its final state. */
export type OutgoingMessage = ChatMessage & {
  readonly clientId: string;
  /** Resolves (never rejects) once the message is stored (`sendState: 'sent'`) or refused (`'failed'`). */
  readonly settled: Promise<ChatMessage>;
};

export interface SendInput {
  content: string;
  kind?: 'text' | 'image' | 'file' | 'voice';
  replyToId?: string | null;
  attachmentIds?: string[];
  /** A reply in this message's thread: listed by watchThread, not by watchMessages (unless alsoToChannel). */
  threadRootId?: string | null;
  /** With threadRootId: show the reply on the main line too. */
  alsoToChannel?: boolean;
}

export type ConnectionState = 'connecting' | 'online' | 'offline' | 'reconnecting';

export interface Presence {
  status: 'online' | 'offline' | 'unknown';
  lastSeenAt: string | null;
}

/**
 * The one persistence interface of the SDK (outbox; values are JSON-serializable).
 * `keys(prefix)` lists the keys starting with `prefix`, in any order.
 */
export interface Storage {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  keys(prefix: string): Promise<string[]>;
}

/** Time, injectable so that tests run on a fake clock. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface Unsubscribe {
  unsubscribe(): void;
}
