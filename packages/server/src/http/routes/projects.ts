import { CreateProjectBody, Id, Project, ProjectList, UpdateProjectBody } from '@confab/protocol';
import { z } from 'zod';
import type { Context } from '../../context.ts';
import * as projects from '../../operations/projects.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

export function projectRoutes(app: App, ctx: Context) {
  const tags = ['projects'];
  const security = [{ bearer: [] }];
  const params = z.strictObject({ id: Id });
  app.get('/api/projects', { schema: { tags, security, response: { 200: ProjectList } } }, async (req) => ({
    projects: await projects.listProjects(ctx, await requireUser(ctx, req)),
  }));
  app.post('/api/projects', { schema: { tags, security, body: CreateProjectBody, response: { 201: Project } } }, async (req, reply) =>
    reply.status(201).send(await projects.createProject(ctx, await requireUser(ctx, req), req.body.name)),
  );
  app.patch('/api/projects/:id', { schema: { tags, security, params, body: UpdateProjectBody, response: { 200: Project } } }, async (req) =>
    projects.renameProject(ctx, await requireUser(ctx, req), req.params.id, req.body.name),
  );
  app.delete('/api/projects/:id', { schema: { tags, security, params } }, async (req, reply) => {
    await projects.deleteProject(ctx, await requireUser(ctx, req), req.params.id);
    return reply.status(204).send();
  });
}
