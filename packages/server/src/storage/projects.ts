// Queries on projects (issue #17, item 2: the query layer): a user's private folders. Every query
// is scoped to the owner, so another user's project is as absent as a missing one. The SQL moved
// as it was from operations/projects.ts and operations/conversations.ts.
import type { Queryable } from './db.ts';
import type { ProjectRow } from './rows.ts';

const COLUMNS = 'id, name, created_at, updated_at';

export function listOwnProjects(db: Queryable, ownerId: string): Promise<ProjectRow[]> {
  return db.query<ProjectRow>(`SELECT ${COLUMNS} FROM projects WHERE owner_id = $1 ORDER BY created_at, id`, [ownerId]);
}

export async function insertProject(db: Queryable, id: string, ownerId: string, name: string): Promise<ProjectRow> {
  const [row] = await db.query<ProjectRow>(`INSERT INTO projects (id, owner_id, name) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`, [id, ownerId, name]);
  return row!;
}

/** Renames the owner's project; undefined if the owner has no such project. */
export async function renameOwnProject(db: Queryable, id: string, ownerId: string, name: string): Promise<ProjectRow | undefined> {
  const [row] = await db.query<ProjectRow>(`UPDATE projects SET name = $3, updated_at = now() WHERE id = $1 AND owner_id = $2 RETURNING ${COLUMNS}`, [id, ownerId, name]);
  return row;
}

/** Deletes the owner's project (its conversations stay, unfiled: ON DELETE SET NULL); false if there was none. */
export async function deleteOwnProject(db: Queryable, id: string, ownerId: string): Promise<boolean> {
  const deleted = await db.query('DELETE FROM projects WHERE id = $1 AND owner_id = $2 RETURNING 1', [id, ownerId]);
  return deleted.length > 0;
}

/**
 * Whether the owner has this project, holding it (FOR SHARE) until the transaction ends: filing a
 * conversation in it then cannot race its deletion (the foreign key would fail).
 */
export async function lockOwnProject(tx: Queryable, id: string, ownerId: string): Promise<boolean> {
  const [project] = await tx.query('SELECT 1 FROM projects WHERE id = $1 AND owner_id = $2 FOR SHARE', [id, ownerId]);
  return project !== undefined;
}
