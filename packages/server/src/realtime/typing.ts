/**
 * Who is typing where, on this node. Ephemeral by design: never written to the database, and
 * lost with the node (clients also expire a typing indicator by themselves after the TTL).
 * One map and one sweep per server, not a timer per socket: a typing event only refreshes a
 * deadline, and the gateway's periodic sweep ends the expired ones.
 */
export interface TypingState {
  conversationId: string;
  userId: string;
  displayName: string;
  /** The socket that last reported typing: its disconnect ends the indicator. */
  socketId: string;
  expiresAt: number;
}

export type TypingAnnounce = (state: TypingState, isTyping: boolean, exceptSocketId: string | undefined) => void;

export class TypingTracker {
  private readonly active = new Map<string, TypingState>();

  constructor(
    private readonly announce: TypingAnnounce,
    private readonly ttlMs = 10_000,
  ) {}

  private static key(conversationId: string, userId: string) {
    return `${conversationId}\n${userId}`;
  }

  /** A socket reports typing (or not). Every report is forwarded: a late joiner learns on the next refresh. */
  report(conversationId: string, userId: string, displayName: string, socketId: string, isTyping: boolean, now = Date.now()): void {
    const key = TypingTracker.key(conversationId, userId);
    if (isTyping) {
      const state = { conversationId, userId, displayName, socketId, expiresAt: now + this.ttlMs };
      this.active.set(key, state);
      this.announce(state, true, socketId);
      return;
    }
    const state = this.active.get(key) ?? { conversationId, userId, displayName, socketId, expiresAt: now };
    this.active.delete(key);
    this.announce(state, false, socketId);
  }

  /** The socket went away: end whatever it was typing. */
  endSocket(socketId: string): void {
    for (const [key, state] of this.active) {
      if (state.socketId !== socketId) continue;
      this.active.delete(key);
      this.announce(state, false, undefined);
    }
  }

  /** The user left the conversation: end their indicator there without telling them. */
  endMembership(conversationId: string, userId: string): void {
    const key = TypingTracker.key(conversationId, userId);
    const state = this.active.get(key);
    if (!state) return;
    this.active.delete(key);
    this.announce(state, false, undefined);
  }

  sweep(now = Date.now()): void {
    for (const [key, state] of this.active) {
      if (state.expiresAt > now) continue;
      this.active.delete(key);
      this.announce(state, false, undefined);
    }
  }

  get size(): number {
    return this.active.size;
  }

  clear(): void {
    this.active.clear();
  }
}
