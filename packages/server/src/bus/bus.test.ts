import type { Message } from '@confab/protocol';
import { describe, expect, it } from 'vitest';
import { wireView } from '../realtime/fanout.ts';
import { createLocalBus, type BusEvent, type DomainEvent } from './bus.ts';

const message = (over: Partial<Message> = {}) => ({ id: 'm1', conversationId: 'c1', updatedSeq: 7, content: 'hi', ...over }) as Message;

describe('bus', () => {
  it('delivers each kind only to its subscribers, in the order they subscribed; unsubscribing while delivering skips nobody', () => {
    const bus = createLocalBus(wireView);
    const seen: string[] = [];
    const stopFirst = bus.subscribe('message_stored', (e) => {
      seen.push(`first ${e.message.id}`);
      stopFirst();
    });
    bus.subscribe('message_stored', (e) => seen.push(`second ${e.message.id}`));
    bus.subscribe('membership', (e) => seen.push(`membership ${e.userId}`));
    bus.publish({ type: 'message_stored', message: message() });
    bus.publish({ type: 'message_stored', message: message({ id: 'm2' }) });
    bus.publish({ type: 'membership', userId: 'u1', conversationId: 'c1', joined: true });
    bus.publish({ type: 'receipt_moved', receipt: { conversationId: 'c1', userId: 'u1', status: 'read', seq: 3 } });
    expect(seen).toEqual(['first m1', 'second m1', 'second m2', 'membership u1']);
  });

  it('shows catch-all subscribers the wire view: rooms and wire names from realtime/fanout.ts', () => {
    const bus = createLocalBus(wireView);
    const wire: BusEvent[] = [];
    const stop = bus.subscribe((e) => wire.push(e));
    const final = message({ status: 'complete', content: 'answer' });
    const events: DomainEvent[] = [
      { type: 'message_stored', message: message(), repeat: true },
      { type: 'membership', userId: 'u1', conversationId: 'c1', joined: false },
      { type: 'member_view_changed', userId: 'u1', view: { id: 'c1', removed: true } },
      { type: 'answer_completed', message: final, status: 'complete' },
      { type: 'notification', userId: 'u2', notification: { kind: 'ai_answer', conversationId: 'c1', messageId: 'm1', title: 't', body: 'b' } },
    ];
    for (const e of events) bus.publish(e);
    expect(wire).toEqual([
      { type: 'emit', room: 'conv:c1', event: 'chat:message_received', payload: message(), repeat: true },
      { type: 'membership', userId: 'u1', conversationId: 'c1', joined: false },
      { type: 'emit', room: 'user:u1', event: 'conversation:update', payload: { id: 'c1', removed: true } },
      { type: 'emit', room: 'conv:c1', event: 'chat:message_updated', payload: final },
      { type: 'emit', room: 'conv:c1', event: 'ai:done', payload: { conversationId: 'c1', messageId: 'm1', status: 'complete', content: 'answer' } },
      { type: 'emit', room: 'user:u2', event: 'notification', payload: events[4]!.type === 'notification' && events[4]!.notification },
    ]);
    stop();
    bus.publish({ type: 'message_stored', message: message() });
    expect(wire).toHaveLength(6);
  });

  it('works events into the wire view only while someone listens to it', () => {
    let views = 0;
    const bus = createLocalBus((e, out) => {
      views++;
      wireView(e, out);
    });
    bus.publish({ type: 'message_stored', message: message() });
    expect(views).toBe(0);
    const stop = bus.subscribe(() => {});
    bus.publish({ type: 'message_stored', message: message() });
    stop();
    bus.publish({ type: 'message_stored', message: message() });
    expect(views).toBe(1);
  });
});
