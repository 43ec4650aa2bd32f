import type { Message, ToolCall } from '@confab/protocol';
import { redisBatch, type RedisClients } from '../redis/redis.ts';

/**
 * The live text of answers being streamed, so a client that joins, reloads or reconnects to any
 * node mid-answer gets the text so far plus how many pieces it holds (`streamIndex`), then applies
 * only `ai:delta` pieces from that index on. The database holds a checkpoint at most every 500 ms;
 * this holds the tail between checkpoints.
 *
 * A piece is recorded here *before* its `ai:delta` is emitted, so whatever a reader sees here plus
 * the deltas it receives afterwards covers every piece at least once, and `index` removes repeats.
 * Tool calls (assistant/tools/) are kept the same way: recorded here before their `ai:tool` event
 * goes out, each event carrying a call's whole state.
 */
export interface LiveText {
  text: string;
  pieces: number;
  /** The answer's tool calls so far, in the order called; absent when it called none. */
  toolCalls?: ToolCall[];
}

export interface StreamRegistry {
  begin(messageId: string): Promise<void>;
  append(messageId: string, text: string): void;
  /** The answer's tool calls as they are now (all of them: a few, written when one starts or ends). */
  setToolCalls(messageId: string, calls: ToolCall[]): void;
  /** Marks the stream alive without new text (a long pause before the first token). */
  touch(messageId: string): void;
  get(messageIds: string[]): Promise<Map<string, LiveText>>;
  end(messageId: string): Promise<void>;
}

export function memoryStreamRegistry(): StreamRegistry {
  const live = new Map<string, LiveText>();
  return {
    async begin(id) {
      live.set(id, { text: '', pieces: 0 });
    },
    append(id, text) {
      const entry = live.get(id);
      if (entry) {
        entry.text += text;
        entry.pieces++;
      }
    },
    setToolCalls(id, calls) {
      const entry = live.get(id);
      if (entry) entry.toolCalls = calls.map((c) => ({ ...c }));
    },
    touch() {},
    async get(ids) {
      const found = new Map<string, LiveText>();
      for (const id of ids) {
        const entry = live.get(id);
        if (entry) found.set(id, { ...entry });
      }
      return found;
    },
    async end(id) {
      live.delete(id);
    },
  };
}

/** Expires a stream whose node died: the orphan sweep then closes its message. */
export const LIVE_TTL_MS = 30_000;

export function redisStreamRegistry(redis: RedisClients): StreamRegistry {
  const textKey = (id: string) => `${redis.prefix}ai:${id}:text`;
  const countKey = (id: string) => `${redis.prefix}ai:${id}:n`;
  const toolsKey = (id: string) => `${redis.prefix}ai:${id}:tools`;
  // Writes go through the same connection in order; failures are ignored here because the
  // database checkpoint still bounds what a late joiner can miss.
  const ignore = () => {};
  return {
    async begin(id) {
      // Without its live entry another node's orphan sweep would close the answer: no Redis, no answer.
      await redisBatch(redis.pub.multi().set(textKey(id), '', 'PX', LIVE_TTL_MS).set(countKey(id), 0, 'PX', LIVE_TTL_MS).exec());
    },
    append(id, text) {
      redis.pub.multi().append(textKey(id), text).pexpire(textKey(id), LIVE_TTL_MS).incr(countKey(id)).pexpire(countKey(id), LIVE_TTL_MS).exec().catch(ignore);
    },
    setToolCalls(id, calls) {
      redis.pub.set(toolsKey(id), JSON.stringify(calls), 'PX', LIVE_TTL_MS).catch(ignore);
    },
    touch(id) {
      redis.pub.multi().pexpire(textKey(id), LIVE_TTL_MS).pexpire(countKey(id), LIVE_TTL_MS).pexpire(toolsKey(id), LIVE_TTL_MS).exec().catch(ignore);
    },
    async get(ids) {
      const found = new Map<string, LiveText>();
      if (ids.length === 0) return found;
      // One MULTI so text, count and tool calls are read at the same instant.
      const multi = redis.pub.multi();
      for (const id of ids) multi.get(textKey(id)).get(countKey(id)).get(toolsKey(id));
      const replies = await redisBatch(multi.exec());
      ids.forEach((id, i) => {
        const text = replies[3 * i]?.[1];
        const count = replies[3 * i + 1]?.[1];
        const tools = replies[3 * i + 2]?.[1];
        if (typeof text !== 'string' || count === null || count === undefined) return;
        const entry: LiveText = { text, pieces: Number(count) };
        const toolCalls = typeof tools === 'string' ? parseCalls(tools) : undefined;
        if (toolCalls) entry.toolCalls = toolCalls;
        found.set(id, entry);
      });
      return found;
    },
    async end(id) {
      // The answer is final in the database; an entry left behind expires with LIVE_TTL_MS.
      await redis.pub.del(textKey(id), countKey(id), toolsKey(id)).catch(ignore);
    },
  };
}

function parseCalls(raw: string): ToolCall[] | undefined {
  try {
    return JSON.parse(raw) as ToolCall[];
  } catch {
    return undefined;
  }
}

/** Streaming answers in `messages` get their live text and `streamIndex` (see streams.ts). */
export async function withLiveText(streams: StreamRegistry, messages: Message[]): Promise<Message[]> {
  const streaming = messages.filter((m) => m.status === 'streaming').map((m) => m.id);
  if (streaming.length === 0) return messages;
  // Without Redis the database checkpoint is what there is: the text so far, without `streamIndex`
  // (the client then places live pieces itself), rather than no messages at all.
  const live = await streams.get(streaming).catch(() => new Map<string, LiveText>());
  return messages.map((m) => {
    const entry = live.get(m.id);
    if (!entry) return m;
    const now = { ...m, content: entry.text, streamIndex: entry.pieces };
    // The live calls are newer than the database's checkpoint of them.
    return entry.toolCalls ? { ...now, toolCalls: entry.toolCalls } : now;
  });
}
