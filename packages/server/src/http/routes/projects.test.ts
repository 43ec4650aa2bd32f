import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, type TestServer } from '../../test/harness.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

describe('projects', () => {
  it('creates, lists, renames and deletes the caller’s projects', async () => {
    const alice = await registerUser(server, 'alice');
    expect((await alice.api.get('/api/projects')).body).toEqual({ projects: [] });
    const work = await alice.api.post('/api/projects', { name: '  Work  ' });
    expect(work.status).toBe(201);
    expect(work.body).toMatchObject({ name: 'Work' });
    expect(typeof work.body.id).toBe('string');
    expect(new Date(work.body.createdAt).toISOString()).toBe(work.body.createdAt);
    const home = (await alice.api.post('/api/projects', { name: 'Home' })).body;
    expect((await alice.api.get('/api/projects')).body.projects.map((p: any) => p.id)).toEqual([work.body.id, home.id]);

    const renamed = await alice.api.patch(`/api/projects/${work.body.id}`, { name: 'Job' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: work.body.id, name: 'Job', createdAt: work.body.createdAt });
    expect(renamed.body.updatedAt >= work.body.updatedAt).toBe(true);

    expect((await alice.api.delete(`/api/projects/${home.id}`)).status).toBe(204);
    expect((await alice.api.get('/api/projects')).body.projects).toEqual([renamed.body]);
    expect((await alice.api.delete(`/api/projects/${home.id}`)).status).toBe(404);
  });

  it('validates names', async () => {
    const bob = await registerUser(server, 'bob');
    for (const body of [{}, { name: '' }, { name: '   ' }, { name: 'x'.repeat(101) }, { name: 'ok', color: 'red' }, { name: 42 }]) {
      const res = await bob.api.post('/api/projects', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    }
    const p = (await bob.api.post('/api/projects', { name: 'ok' })).body;
    expect((await bob.api.patch(`/api/projects/${p.id}`, { name: '' })).status).toBe(400);
  });

  it('another user’s project is NOT_FOUND, like one that does not exist', async () => {
    const owner = await registerUser(server, 'owner');
    const other = await registerUser(server, 'other');
    const secret = (await owner.api.post('/api/projects', { name: 'Secret plans 91c' })).body;
    expect((await other.api.get('/api/projects')).body.projects).toEqual([]);
    const missing = await other.api.patch('/api/projects/does-not-exist', { name: 'x' });
    for (const res of [await other.api.patch(`/api/projects/${secret.id}`, { name: 'Mine now' }), await other.api.delete(`/api/projects/${secret.id}`)]) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
      expect(res.body).toEqual(missing.body);
      expect(JSON.stringify(res.body)).not.toContain('Secret plans');
    }
    expect((await owner.api.get('/api/projects')).body.projects).toEqual([secret]);
  });

  it('deleting a project unfiles its conversations but keeps them', async () => {
    const carol = await registerUser(server, 'carol');
    const p = (await carol.api.post('/api/projects', { name: 'Folder' })).body;
    const conv = (await carol.api.post('/api/conversations/assistant', { title: 'filed' })).body;
    expect((await carol.api.patch(`/api/conversations/${conv.id}`, { projectId: p.id })).body.projectId).toBe(p.id);
    expect((await carol.api.delete(`/api/projects/${p.id}`)).status).toBe(204);
    const after = await carol.api.get(`/api/conversations/${conv.id}`);
    expect(after.status).toBe(200);
    expect(after.body.projectId).toBeNull();
  });

  it('requires a token', async () => {
    const dan = await registerUser(server, 'dan');
    const anon = dan.api.as(undefined);
    expect((await anon.get('/api/projects')).status).toBe(401);
    expect((await anon.post('/api/projects', { name: 'x' })).status).toBe(401);
    expect((await anon.patch('/api/projects/x', { name: 'x' })).status).toBe(401);
    expect((await anon.delete('/api/projects/x')).status).toBe(401);
  });
});
