import { ConfabError, type Project } from '@confab/protocol';
import type { Context } from '../context.ts';
import { newId } from '../ids.ts';
import { iso } from './users.ts';

interface ProjectRow {
  id: string;
  name: string;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, name, created_at, updated_at';

function toProject(row: ProjectRow): Project {
  return { id: row.id, name: row.name, createdAt: iso(row.created_at)!, updatedAt: iso(row.updated_at)! };
}

/** Projects are private folders: another user's project answers NOT_FOUND, exactly like a missing one. */
const notFound = () => new ConfabError('NOT_FOUND', 'no such project');

export async function listProjects(ctx: Context, userId: string): Promise<Project[]> {
  const rows = await ctx.db.query<ProjectRow>(`SELECT ${COLUMNS} FROM projects WHERE owner_id = $1 ORDER BY created_at, id`, [userId]);
  return rows.map(toProject);
}

export async function createProject(ctx: Context, userId: string, name: string): Promise<Project> {
  const [row] = await ctx.db.query<ProjectRow>(`INSERT INTO projects (id, owner_id, name) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`, [newId(), userId, name]);
  return toProject(row!);
}

export async function renameProject(ctx: Context, userId: string, id: string, name: string): Promise<Project> {
  const [row] = await ctx.db.query<ProjectRow>(
    `UPDATE projects SET name = $3, updated_at = now() WHERE id = $1 AND owner_id = $2 RETURNING ${COLUMNS}`,
    [id, userId, name],
  );
  if (!row) throw notFound();
  return toProject(row);
}

/** Conversations filed in the project stay; their project_id becomes NULL (ON DELETE SET NULL). */
export async function deleteProject(ctx: Context, userId: string, id: string): Promise<void> {
  const deleted = await ctx.db.query('DELETE FROM projects WHERE id = $1 AND owner_id = $2 RETURNING 1', [id, userId]);
  if (deleted.length === 0) throw notFound();
}
