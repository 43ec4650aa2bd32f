// Queries on sessions and refresh_tokens (issue #17, item 2: the query layer). The SQL is the
// hand-tuned SQL that lived in operations/auth.ts, moved as it was; operations/auth.ts keeps the
// rules (rotation, reuse detection, who is told).
import type { Queryable } from './db.ts';

/**
 * THE rule for "this session is live", as a condition on the sessions row under `alias`. Every
 * statement that lets a session in (a REST request, a refresh, a socket handshake) uses it, so
 * the rule is written once.
 */
export function sessionIsLive(alias: string): string {
  return `${alias}.revoked_at IS NULL`;
}

/**
 * The other side of the same rule: the session under `alias` stopped being live after `instant`
 * (a SQL expression). Nodes read these back to close the sockets of ended sessions.
 */
export function sessionEndedAfter(alias: string, instant: string): string {
  return `${alias}.revoked_at > ${instant}`;
}

/** Whether the session exists, belongs to the user and is live: checked on every REST request. */
export async function isSessionLive(db: Queryable, sessionId: string, userId: string): Promise<boolean> {
  const [row] = await db.query<{ live: boolean }>(`SELECT ${sessionIsLive('s')} AS live FROM sessions s WHERE s.id = $1 AND s.user_id = $2`, [sessionId, userId], {
    prepare: true,
  });
  return row?.live === true;
}

/** `client`: what "signed-in devices" shows (GET /api/auth/sessions). */
export async function insertSession(db: Queryable, sessionId: string, userId: string, client: { userAgent?: string | undefined; ip?: string | undefined } = {}): Promise<void> {
  await db.query('INSERT INTO sessions (id, user_id, user_agent, ip) VALUES ($1, $2, $3, $4)', [sessionId, userId, client.userAgent ?? null, client.ip ?? null]);
}

export async function insertRefreshToken(db: Queryable, tokenHash: string, sessionId: string, expiresAt: Date): Promise<void> {
  await db.query('INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)', [tokenHash, sessionId, expiresAt]);
}

/**
 * Spends an unexpired, unspent refresh token of a live session, atomically (UPDATE ... WHERE
 * used_at IS NULL: two concurrent refreshes with one token cannot both win). Undefined if not spent.
 */
export async function spendRefreshToken(db: Queryable, tokenHash: string): Promise<{ session_id: string; user_id: string } | undefined> {
  const [spent] = await db.query<{ session_id: string; user_id: string }>(
    `UPDATE refresh_tokens t SET used_at = now()
       FROM sessions s
      WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now()
        AND s.id = t.session_id AND ${sessionIsLive('s')}
      RETURNING t.session_id, s.user_id`,
    [tokenHash],
  );
  return spent;
}

export async function findRefreshToken(db: Queryable, tokenHash: string): Promise<{ session_id: string; used_at: Date | null } | undefined> {
  const [known] = await db.query<{ session_id: string; used_at: Date | null }>('SELECT session_id, used_at FROM refresh_tokens WHERE token_hash = $1', [tokenHash]);
  return known;
}

/** Which live sessions to revoke; a null field does not narrow. */
export interface RevokeFilter {
  userId: string | null;
  sessionIds: string[] | null;
  exceptSessionId: string | null;
  refreshTokenHash: string | null;
}

/** Revokes the live sessions the filter names; returns those it revoked. */
export async function revokeLiveSessions(db: Queryable, f: RevokeFilter): Promise<Array<{ id: string; user_id: string }>> {
  return db.query<{ id: string; user_id: string }>(
    `UPDATE sessions s SET revoked_at = now()
      WHERE ${sessionIsLive('s')}
        AND ($1::text IS NULL OR user_id = $1)
        AND ($2::text[] IS NULL OR id = ANY($2::text[]))
        AND ($3::text IS NULL OR id <> $3)
        AND ($4::text IS NULL OR id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $4))
      RETURNING id, user_id`,
    [f.userId, f.sessionIds, f.exceptSessionId, f.refreshTokenHash],
  );
}

/**
 * For each (user, session) pair whose session is live: the user's display name and every
 * conversation they are in (a socket handshake's rooms). One statement for a whole batch.
 */
export async function liveSocketSessions(
  db: Queryable,
  userIds: string[],
  sessionIds: string[],
): Promise<Array<{ user_id: string; session_id: string; display_name: string; show_last_seen: boolean; conversation_ids: string[] }>> {
  return db.query<{ user_id: string; session_id: string; display_name: string; show_last_seen: boolean; conversation_ids: string[] }>(
    `SELECT q.user_id, q.session_id, u.display_name, u.show_last_seen,
            ARRAY(SELECT conversation_id FROM conversation_members WHERE user_id = q.user_id) AS conversation_ids
       FROM unnest($1::text[], $2::text[]) AS q(user_id, session_id)
       JOIN users u ON u.id = q.user_id
       JOIN sessions s ON s.id = q.session_id AND s.user_id = q.user_id AND ${sessionIsLive('s')}`,
    [userIds, sessionIds],
    { prepare: true },
  );
}
