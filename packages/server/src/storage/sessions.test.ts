import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase } from '../test/harness.ts';
import type { Database } from './db.ts';
import { migrate } from './migrations.ts';
import { insertSession, isSessionLive, liveSocketSessions, revokeLiveSessions } from './sessions.ts';

let db: Database;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ db, close: cleanup } = await openTestDatabase());
  await migrate(db);
  for (const id of ['u1', 'u2']) await db.query(`INSERT INTO users (id, handle, display_name) VALUES ($1, $1, $1)`, [id]);
  await insertSession(db, 's1', 'u1');
  await insertSession(db, 's2', 'u1');
  await insertSession(db, 's3', 'u2');
});
afterAll(() => cleanup());

describe('session liveness (one rule for every way in)', () => {
  it('a session is live until revoked, and only for its own user', async () => {
    expect(await isSessionLive(db, 's1', 'u1')).toBe(true);
    expect(await isSessionLive(db, 's1', 'u2')).toBe(false);
    expect(await isSessionLive(db, 'nope', 'u1')).toBe(false);
  });

  it('revoking ends only the named live sessions, once; socket handshakes then skip them', async () => {
    const revoked = await revokeLiveSessions(db, { userId: 'u1', sessionIds: null, exceptSessionId: 's2', refreshTokenHash: null });
    expect(revoked).toEqual([{ id: 's1', user_id: 'u1' }]);
    expect(await revokeLiveSessions(db, { userId: 'u1', sessionIds: ['s1'], exceptSessionId: null, refreshTokenHash: null })).toEqual([]);
    expect(await isSessionLive(db, 's1', 'u1')).toBe(false);
    expect(await isSessionLive(db, 's2', 'u1')).toBe(true);
    const live = await liveSocketSessions(db, ['u1', 'u1', 'u2'], ['s1', 's2', 's3']);
    expect(live.map((r) => r.session_id).sort()).toEqual(['s2', 's3']);
  });
});
