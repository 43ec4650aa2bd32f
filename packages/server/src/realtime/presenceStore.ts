import type { Redis } from 'ioredis';
import { redisBatch } from '../redis/redis.ts';

/**
 * Who is online: the set of a user's live, non-away connections, across all nodes.
 * A user is online while that set is not empty. Every method reports the *transition* it caused,
 * computed atomically, so exactly one caller announces each online/offline change.
 */
export interface PresenceStore {
  /** Registers a connection; true when the user had none before (went online). */
  add(userId: string, connId: string): Promise<boolean>;
  /** Forgets a connection; true when it was the user's last one (went offline). */
  remove(userId: string, connId: string): Promise<boolean>;
  /** Re-registers this node's live connections; returns users that had to be brought back online. */
  heartbeat(conns: Array<[userId: string, connId: string]>): Promise<string[]>;
  /** Drops connections whose node stopped heartbeating (crashed); returns users now offline. */
  sweepExpired(): Promise<string[]>;
  /** The subset of `userIds` that is online. */
  online(userIds: string[]): Promise<Set<string>>;
}

/** One node: a map in memory is the whole truth. */
export function createLocalPresenceStore(): PresenceStore {
  const conns = new Map<string, Set<string>>();
  return {
    async add(userId, connId) {
      let set = conns.get(userId);
      if (!set) conns.set(userId, (set = new Set()));
      const before = set.size;
      set.add(connId);
      return before === 0;
    },
    async remove(userId, connId) {
      const set = conns.get(userId);
      if (!set?.delete(connId)) return false;
      if (set.size > 0) return false;
      conns.delete(userId);
      return true;
    },
    async heartbeat() {
      return [];
    },
    async sweepExpired() {
      return [];
    },
    async online(userIds) {
      return new Set(userIds.filter((id) => (conns.get(id)?.size ?? 0) > 0));
    },
  };
}

// Per user, a sorted set of connection ids scored by expiry (ms) and the last ANNOUNCED state:
//   <prefix>presence:u:<userId>   connection ids of that user
//   <prefix>presence:s:<userId>   'online' | 'offline', what clients were last told
// and one index of every connection, for the sweep:
//   <prefix>presence:conns        "<userId>\n<connId>" scored by expiry
// Each node refreshes its own connections on a heartbeat; a crashed node's entries stop being
// refreshed and the next sweep (on any node) drops them. Every script compares the live count
// with the announced state, so each transition is reported exactly once, whichever node sees it.
// The scripts touch per-user keys named inside them: fine on one Redis, not on Redis Cluster.

const ADD = `
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
local was = redis.call('GET', KEYS[3])
redis.call('SET', KEYS[3], 'online', 'PX', ARGV[4])
if was == 'online' then return 0 end
return 1`;

const REMOVE = `
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[3], '+inf') > 0 then return 0 end
if redis.call('GET', KEYS[3]) ~= 'online' then return 0 end
redis.call('SET', KEYS[3], 'offline', 'PX', ARGV[4])
return 1`;

const SWEEP = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = { tostring(#expired) }
for _, m in ipairs(expired) do
  redis.call('ZREM', KEYS[1], m)
  local sep = string.find(m, '\\n', 1, true)
  if sep then
    local user = string.sub(m, 1, sep - 1)
    local ukey = ARGV[2] .. user
    local skey = ARGV[4] .. user
    redis.call('ZREM', ukey, string.sub(m, sep + 1))
    if redis.call('ZCOUNT', ukey, '(' .. ARGV[1], '+inf') == 0 and redis.call('GET', skey) == 'online' then
      redis.call('SET', skey, 'offline', 'PX', ARGV[5])
      table.insert(out, user)
    end
  end
end
return out`;

export interface RedisPresenceOptions {
  /** A connection not refreshed for this long counts as gone (its node crashed). */
  ttlMs: number;
}

export function createRedisPresenceStore(redis: Redis, prefix: string, opts: RedisPresenceOptions): PresenceStore {
  const userKeyPrefix = `${prefix}presence:u:`;
  const stateKeyPrefix = `${prefix}presence:s:`;
  const connsKey = `${prefix}presence:conns`;
  // Per-user keys outlive many missed heartbeats, so a sweep always finds them to announce from.
  const keyTtlMs = opts.ttlMs * 4 + 60_000;
  const member = (userId: string, connId: string) => `${userId}\n${connId}`;
  const add = (userId: string, connId: string, now: number) =>
    redis.eval(ADD, 3, userKeyPrefix + userId, connsKey, stateKeyPrefix + userId, connId, member(userId, connId), now + opts.ttlMs, keyTtlMs) as Promise<number>;
  return {
    async add(userId, connId) {
      return (await add(userId, connId, Date.now())) === 1;
    },
    async remove(userId, connId) {
      const changed = await redis.eval(REMOVE, 3, userKeyPrefix + userId, connsKey, stateKeyPrefix + userId, connId, member(userId, connId), Date.now(), keyTtlMs);
      return changed === 1;
    },
    async heartbeat(conns) {
      // All re-adds are written to the connection at once (no await in between), so a REMOVE
      // issued by a disconnect after this point cannot be overtaken by a re-add of the same
      // connection. Re-adding (not just extending) also repairs entries a sweep dropped while
      // this node was stalled longer than the TTL; such users are announced online again.
      const now = Date.now();
      const results = await Promise.all(conns.map(([u, c]) => add(u, c, now)));
      return [...new Set(conns.filter((_, i) => results[i] === 1).map(([u]) => u))];
    },
    async sweepExpired() {
      const offline: string[] = [];
      for (;;) {
        // The first element is how many expired entries the call removed; the rest are users.
        const [removed, ...users] = (await redis.eval(SWEEP, 1, connsKey, Date.now(), userKeyPrefix, 200, stateKeyPrefix, keyTtlMs)) as string[];
        offline.push(...users);
        if (Number(removed) < 200) break;
      }
      return offline;
    },
    async online(userIds) {
      if (userIds.length === 0) return new Set();
      const now = Date.now();
      const pipeline = redis.pipeline();
      for (const id of userIds) pipeline.zcount(userKeyPrefix + id, `(${now}`, '+inf');
      const results = await redisBatch(pipeline.exec());
      return new Set(userIds.filter((_, i) => Number(results[i]?.[1] ?? 0) > 0));
    },
  };
}
