// Queries on users as the conversation operations read them (issue #17, item 2: the query layer):
// names for system messages, and whether ids name users and bots. The SQL moved as it was from
// operations/conversations.ts.
import type { Queryable } from './db.ts';

/** Display names by user id; ids of no user are absent. */
export async function findDisplayNames(db: Queryable, ids: string[]): Promise<Map<string, string>> {
  const rows = await db.query<{ id: string; display_name: string }>('SELECT id, display_name FROM users WHERE id = ANY($1::text[])', [ids]);
  return new Map(rows.map((r) => [r.id, r.display_name]));
}

/** The users of these ids that exist, with whether each is a bot. */
export function findUserKinds(db: Queryable, ids: string[]): Promise<{ id: string; is_bot: boolean }[]> {
  return db.query<{ id: string; is_bot: boolean }>('SELECT id, is_bot FROM users WHERE id = ANY($1::text[])', [ids]);
}

/** Whether the user is a bot; undefined if there is no such user. */
export async function findIsBot(db: Queryable, id: string): Promise<boolean | undefined> {
  const [user] = await db.query<{ is_bot: boolean }>('SELECT is_bot FROM users WHERE id = $1', [id]);
  return user?.is_bot;
}
