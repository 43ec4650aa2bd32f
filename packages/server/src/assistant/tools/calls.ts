import type { Message, ToolCall } from '@confab/protocol';
import type { StreamRegistry } from '../../ai/streams.ts';
import type { Context } from '../../context.ts';
import { checkpointToolCalls } from '../../storage/answers.ts';

/** What people see of a tool's input or output: its JSON up to this many characters. */
export const SHOWN_CHARS = 8000;

/** A value as shown: itself when its JSON is short, else the start of that JSON ending in "…". */
export function shown(value: unknown): unknown {
  if (value === undefined) return undefined;
  let json: string;
  try {
    json = JSON.stringify(value) ?? 'null';
  } catch {
    return String(value).slice(0, SHOWN_CHARS);
  }
  return json.length <= SHOWN_CHARS ? value : `${json.slice(0, SHOWN_CHARS)}…`;
}

/**
 * The tool calls of one streaming answer, as everyone sees them. Each change (a call starts, ends,
 * fails) is recorded in the stream registry first (late joiners and reloads read it, on any node),
 * then announced as `ai:tool` with the call's whole state, then written to the database (a
 * checkpoint, so a node that dies mid-answer leaves them behind; the final write is finishAnswer's).
 * Changes are few (a handful of calls per answer), so each is written, one after the other.
 */
export class ToolCallLog {
  readonly calls: ToolCall[] = [];
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: Context,
    private readonly streams: StreamRegistry,
    private readonly message: Message,
    private readonly countWrite: () => void,
  ) {}

  /** Calls still running. */
  get running(): number {
    return this.calls.filter((c) => c.status === 'running').length;
  }

  start(id: string, name: string, input: unknown): void {
    if (this.calls.some((c) => c.id === id)) return;
    this.calls.push({ id, name, input: shown(input), status: 'running', startedAt: new Date().toISOString() });
    this.changed(this.calls.length - 1);
  }

  done(id: string, output: unknown): void {
    this.end(id, { status: 'done', output: shown(output) });
  }

  failed(id: string, error: string): void {
    this.end(id, { status: 'error', error });
  }

  /** The answer ended: calls still running end with it (`stopped` when it was stopped, else `error`). */
  endRunning(status: 'stopped' | 'error'): void {
    for (const call of this.calls) {
      if (call.status === 'running') this.end(call.id, status === 'stopped' ? { status } : { status, error: 'The answer ended before this call did.' });
    }
  }

  /** Every checkpoint written (before the final state is). */
  async flushed(): Promise<void> {
    await this.writes;
  }

  private end(id: string, fields: Partial<ToolCall> & { status: ToolCall['status'] }): void {
    const i = this.calls.findIndex((c) => c.id === id);
    const call = this.calls[i];
    if (!call || call.status !== 'running') return;
    this.calls[i] = { ...call, ...fields, endedAt: new Date().toISOString() };
    this.changed(i);
  }

  private changed(i: number): void {
    const { ctx, message } = this;
    const call = this.calls[i]!;
    // Recorded before it is announced, so a late joiner never misses it (see ai/streams.ts).
    this.streams.setToolCalls(message.id, this.calls);
    ctx.bus.publish({ type: 'answer_tool', tool: { conversationId: message.conversationId, messageId: message.id, call } });
    const enc = ctx.keys.encrypt(JSON.stringify(this.calls));
    this.writes = this.writes
      .then(() => {
        this.countWrite();
        return checkpointToolCalls(ctx.db, message.id, enc);
      })
      .catch((error: unknown) => ctx.log.warn({ err: error }, 'tool calls checkpoint failed'));
  }
}
