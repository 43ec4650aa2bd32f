import type { Message, TokenPair } from '@confab/protocol';
import type { OutboxEntry } from './outbox.ts';
import type { Clock } from './types.ts';

/** What tabs of one user tell each other over BroadcastChannel('confab:<userId>'). */
export type TabMessage =
  | { type: 'heartbeat'; tab: string }
  | { type: 'hello'; tab: string }
  | { type: 'tokens'; tab: string; tokens: TokenPair | null }
  /** `stale`: the access token the asking tab holds (refused by the server, or about to expire). */
  | { type: 'refresh-request'; tab: string; stale: string }
  | { type: 'outbox'; tab: string; entry: OutboxEntry }
  | { type: 'outbox-removed'; tab: string; clientId: string; message: Message | null };

type Omit2<T, K extends string> = T extends unknown ? Omit<T, K> : never;
export type TabMessageBody = Omit2<TabMessage, 'tab'>;

interface LockManagerLike {
  request(name: string, callback: () => Promise<void>): Promise<unknown>;
}

export interface CrossTabOptions {
  userId: string;
  clock: Clock;
  random: () => number;
  onMessage: (message: TabMessage) => void;
  onLeaderChange: (leader: boolean) => void;
  /** navigator.locks when the platform has it; else the heartbeat election is used. */
  locks?: LockManagerLike | null;
  createChannel?: (name: string) => BroadcastChannel;
}

export const HEARTBEAT_MS = 1000;
export const LEADER_TIMEOUT_MS = 3000;
const FIRST_CLAIM_MS = 300;

/**
 * Tabs of the same user share tokens and outbox changes, and elect one leader that alone rotates
 * the refresh token and drains the outbox (two tabs sending the same queue would only cost
 * de-duplicated resends, but two tabs rotating one refresh token would revoke the session).
 *
 * Election: navigator.locks when available (the lock is held for the tab's lifetime and passes on
 * when the tab dies); otherwise heartbeats: the leader beats every second, a tab that hears none
 * for 3 s claims leadership, and of two leaders that hear each other the smaller tab id stays.
 */
export class CrossTab {
  readonly tabId: string;
  private channel: BroadcastChannel | null = null;
  private leader = false;
  private timer: unknown = null;
  private lastBeat = -Infinity;
  private releaseLock: (() => void) | null = null;
  private closed = false;

  constructor(private readonly opts: CrossTabOptions) {
    this.tabId = `${opts.clock.now().toString(36)}-${Math.floor(opts.random() * 2 ** 40).toString(36)}`;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    const name = `confab:${this.opts.userId}`;
    this.channel = this.opts.createChannel ? this.opts.createChannel(name) : new BroadcastChannel(name);
    this.channel.onmessage = (event: MessageEvent) => this.receive(event.data as TabMessage);
    if (this.opts.locks) {
      void this.opts.locks
        .request(`confab:leader:${this.opts.userId}`, () => {
          if (this.closed) return Promise.resolve();
          this.setLeader(true);
          return new Promise<void>((resolve) => (this.releaseLock = resolve));
        })
        .catch(() => {});
    } else {
      this.post({ type: 'hello' });
      this.tick(FIRST_CLAIM_MS);
    }
  }

  post(message: TabMessageBody): void {
    if (this.closed || !this.channel) return;
    try {
      this.channel.postMessage({ ...message, tab: this.tabId });
    } catch {
      /* a closed channel: nothing to tell */
    }
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.opts.onLeaderChange(leader);
  }

  private tick(ms: number): void {
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = null;
      if (this.closed) return;
      if (this.leader) this.post({ type: 'heartbeat' });
      else if (this.opts.clock.now() - this.lastBeat >= LEADER_TIMEOUT_MS) {
        this.setLeader(true);
        this.post({ type: 'heartbeat' });
      }
      this.tick(HEARTBEAT_MS);
    }, ms);
  }

  private receive(message: TabMessage): void {
    if (this.closed || !message || message.tab === this.tabId) return;
    if (!this.opts.locks) {
      if (message.type === 'heartbeat') {
        if (this.leader && message.tab < this.tabId) this.setLeader(false);
        if (!this.leader) this.lastBeat = this.opts.clock.now();
        return;
      }
      if (message.type === 'hello') {
        // Answer at once so a new tab does not claim leadership while one exists.
        if (this.leader) this.post({ type: 'heartbeat' });
        return;
      }
    }
    this.opts.onMessage(message);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) this.opts.clock.clearTimeout(this.timer);
    this.timer = null;
    this.releaseLock?.();
    this.releaseLock = null;
    this.leader = false;
    this.channel?.close();
    this.channel = null;
  }
}
