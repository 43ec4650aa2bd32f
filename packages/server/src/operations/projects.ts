import { ConfabError, type Project } from '@confab/protocol';
import type { Context } from '../context.ts';
import { newId } from '../ids.ts';
import { deleteOwnProject, insertProject, listOwnProjects, renameOwnProject } from '../storage/projects.ts';
import type { ProjectRow } from '../storage/rows.ts';
import { iso } from './users.ts';

function toProject(row: ProjectRow): Project {
  return { id: row.id, name: row.name, createdAt: iso(row.created_at)!, updatedAt: iso(row.updated_at)! };
}

/** Projects are private folders: another user's project answers NOT_FOUND, exactly like a missing one. */
const notFound = () => new ConfabError('NOT_FOUND', 'no such project');

export async function listProjects(ctx: Context, userId: string): Promise<Project[]> {
  return (await listOwnProjects(ctx.db, userId)).map(toProject);
}

export async function createProject(ctx: Context, userId: string, name: string): Promise<Project> {
  return toProject(await insertProject(ctx.db, newId(), userId, name));
}

export async function renameProject(ctx: Context, userId: string, id: string, name: string): Promise<Project> {
  const row = await renameOwnProject(ctx.db, id, userId, name);
  if (!row) throw notFound();
  return toProject(row);
}

/** Conversations filed in the project stay; their project_id becomes NULL (ON DELETE SET NULL). */
export async function deleteProject(ctx: Context, userId: string, id: string): Promise<void> {
  if (!(await deleteOwnProject(ctx.db, id, userId))) throw notFound();
}
