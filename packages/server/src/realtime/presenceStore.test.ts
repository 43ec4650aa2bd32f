import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRedisPrefix, testRedisUrl } from '../test/harness.ts';
import { createLocalPresenceStore, createRedisPresenceStore, type PresenceStore } from './presenceStore.ts';
import { deleteKeys } from '../redis/redis.ts';
import { sleep } from './test/kit.ts';

let redis: Redis;
const prefix = newRedisPrefix();
beforeAll(async () => {
  redis = new Redis(testRedisUrl, { lazyConnect: true });
  await redis.connect();
});
afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

function transitions(name: string, make: () => PresenceStore) {
  describe(`${name} presence store`, () => {
    it('reports exactly the transitions: first connection online, last one offline', async () => {
      const store = make();
      expect(await store.add('u1', 'a')).toBe(true);
      expect(await store.add('u1', 'b')).toBe(false);
      expect(await store.online(['u1', 'u2'])).toEqual(new Set(['u1']));
      expect(await store.remove('u1', 'a')).toBe(false);
      expect(await store.remove('u1', 'a')).toBe(false);
      expect(await store.remove('u1', 'b')).toBe(true);
      expect(await store.online(['u1'])).toEqual(new Set());
    });
  });
}

transitions('local', createLocalPresenceStore);
transitions('redis', () => createRedisPresenceStore(redis, `${prefix}t:`, { ttlMs: 10_000 }));

describe('redis presence across nodes', () => {
  it('counts connections of all nodes, and forgets those of a node that stops heartbeating', async () => {
    const p = `${prefix}nodes:`;
    const nodeA = createRedisPresenceStore(redis, p, { ttlMs: 300 });
    const nodeB = createRedisPresenceStore(redis, p, { ttlMs: 300 });
    expect(await nodeA.add('u', 'a1')).toBe(true);
    expect(await nodeB.add('u', 'b1')).toBe(false);
    expect(await nodeB.add('v', 'b2')).toBe(true);
    // Node B "crashes": only A keeps heartbeating.
    for (let i = 0; i < 4; i++) {
      await sleep(120);
      expect(await nodeA.heartbeat([['u', 'a1']])).toEqual([]);
    }
    // u still has A's connection; v had only B's and is reported offline exactly once.
    expect(await nodeA.sweepExpired()).toEqual(['v']);
    expect(await nodeB.sweepExpired()).toEqual([]);
    expect(await nodeA.online(['u', 'v'])).toEqual(new Set(['u']));
    expect(await nodeA.remove('u', 'a1')).toBe(true);
  });

  it('brings a stalled node\'s connection back on its next heartbeat', async () => {
    const p = `${prefix}stall:`;
    const node = createRedisPresenceStore(redis, p, { ttlMs: 100 });
    expect(await node.add('w', 'c1')).toBe(true);
    await sleep(200);
    expect(await node.sweepExpired()).toEqual(['w']);
    expect(await node.heartbeat([['w', 'c1']])).toEqual(['w']);
    expect(await node.online(['w'])).toEqual(new Set(['w']));
  });
});
