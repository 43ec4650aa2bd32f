/**
 * The OpenAPI description (GET /api/docs) is good enough for generated clients: an independent
 * validator accepts it, every operation is named and says its security and error answers, no two
 * paths differ only by a parameter's name, and a client generated from it type-checks.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPublicRoute } from '../auth.ts';
import { operationName, routeErrors } from '../openapi.ts';
import { registerUser, startTestServer, type TestServer } from '../../test/harness.ts';

interface Operation {
  operationId?: string;
  summary?: string;
  security?: Record<string, string[]>[];
  responses?: Record<string, { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> }>;
}
interface Description {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
}

let server: TestServer;
let docs: Description;

beforeAll(async () => {
  server = await startTestServer();
  docs = (await (await fetch(`${server.url}/api/docs`)).json()) as Description;
});
afterAll(async () => {
  await server?.close();
});

const operations = () =>
  Object.entries(docs.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, route: path.replace(/\{(\w+)\}/g, ':$1'), op })),
  );

describe('the OpenAPI description', () => {
  it('is valid by an independent validator', async () => {
    expect(docs.openapi).toMatch(/^3\./);
    // validate() dereferences in place: give it a copy.
    await expect(SwaggerParser.validate(structuredClone(docs) as never)).resolves.toBeTruthy();
    // The validator does refuse a broken description (an answer without its description).
    const broken = structuredClone(docs);
    broken.paths['/api/broken'] = { get: { responses: { 200: { content: {} } } } as Operation };
    await expect(SwaggerParser.validate(broken as never)).rejects.toThrow(/broken/);
  });

  it('names every operation once, with a summary', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThan(60);
    const ids = ops.map((o) => o.op.operationId);
    for (const { key, op } of ops) {
      expect(op.operationId, key).toMatch(/^[a-z][A-Za-z0-9]+$/);
      expect(op.summary, key).toMatch(/\S/);
    }
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    const byKey = new Map(ops.map((o) => [o.key, o.op]));
    expect(byKey.get('GET /api/conversations/{id}/messages')?.operationId).toBe('getConversationMessages');
    expect(byKey.get('DELETE /api/messages/{id}/reactions/{emoji}')?.operationId).toBe('deleteMessageReaction');
  });

  it('declares bearer security on every non-public operation and none on public ones', () => {
    for (const { key, route, op } of operations()) {
      if (isPublicRoute(route)) expect(op.security ?? [], key).toEqual([]);
      else expect(op.security, key).toEqual([{ bearer: [] }]);
    }
    expect(isPublicRoute('/api/auth/login')).toBe(true);
  });

  it('declares the error answers in the contract’s shape on every operation', () => {
    for (const { key, route, op } of operations()) {
      const errors = Object.keys(op.responses ?? {}).filter((status) => Number(status) >= 400);
      expect(errors.length, key).toBeGreaterThan(0);
      expect(errors, key).toEqual(expect.arrayContaining(['403', '500', '503']));
      if (!isPublicRoute(route)) expect(errors, key).toEqual(expect.arrayContaining(['401', '429']));
      else expect(errors, key).not.toContain('401');
      if (route.includes('/:')) expect(errors, key).toContain('404');
      for (const status of errors) {
        const error = op.responses![status]!.content?.['application/json']?.schema?.properties?.error as { properties?: Record<string, unknown> } | undefined;
        expect(Object.keys(error?.properties ?? {}).sort(), `${key} ${status}`).toEqual(['code', 'details', 'message']);
      }
    }
    expect(routeErrors('POST', '/api/auth/login', undefined)).toEqual(['VALIDATION_ERROR', 'FORBIDDEN', 'PAYLOAD_TOO_LARGE', 'RATE_LIMITED', 'INTERNAL', 'UNAVAILABLE']);
  });

  it('has no two paths that differ only by a parameter’s name', () => {
    const shapes = new Map<string, string>();
    const clashes: string[] = [];
    for (const path of Object.keys(docs.paths)) {
      const shape = path.replace(/\{\w+\}/g, '{}');
      const other = shapes.get(shape);
      if (other) clashes.push(`${other} ~ ${path}`);
      shapes.set(shape, path);
    }
    expect(clashes).toEqual([]);
    expect(Object.keys(docs.paths)).toContain('/api/conversations/{id}/messages');
    expect(Object.keys(docs.paths)).not.toContain('/api/messages/{conversationId}');
  });

  it('derives stable camelCase names, the long form naming the parameters', () => {
    expect(operationName('GET', '/api/conversations')).toBe('getConversations');
    expect(operationName('GET', '/api/users/me/settings')).toBe('getUsersMeSettings');
    expect(operationName('POST', '/api/auth/password-reset/request')).toBe('postAuthPasswordResetRequest');
    expect(operationName('GET', '/api/admin/webhooks/:id/deliveries')).toBe('getAdminWebhookDeliveries');
    expect(operationName('DELETE', '/api/messages/:id/reactions/:emoji', true)).toBe('deleteMessageByIdReactionByEmoji');
  });
});

describe('GET /api/conversations/:id/messages', () => {
  it('answers exactly as GET /api/messages/:conversationId', async () => {
    const ann = await registerUser(server, 'ann');
    const bob = await registerUser(server, 'bob');
    const outsider = await registerUser(server, 'out');
    const conv = (await ann.api.post('/api/conversations/direct', { userId: bob.id })).body as { id: string };
    for (const content of ['one', 'two', 'three']) {
      expect((await ann.api.post('/api/messages', { conversationId: conv.id, content, clientId: content })).status).toBe(201);
    }

    for (const q of ['', '?limit=2', '?after=1']) {
      const now = await bob.api.get(`/api/conversations/${conv.id}/messages${q}`);
      const before = await bob.api.get(`/api/messages/${conv.id}${q}`);
      expect(now.status).toBe(200);
      expect(now.body).toEqual(before.body);
    }
    expect((await bob.api.get(`/api/conversations/${conv.id}/messages`)).body.messages.map((m: { content: string }) => m.content)).toEqual(['one', 'two', 'three']);
    for (const path of [`/api/conversations/${conv.id}/messages`, `/api/messages/${conv.id}`]) {
      const refused = await outsider.api.get(path);
      expect(refused.status, path).toBe(404);
      expect((await outsider.api.as(undefined).get(path)).status, path).toBe(401);
      expect((await bob.api.get(`${path}?limit=0`)).status, path).toBe(400);
    }
  });
});

describe('a client generated from the description', () => {
  it('type-checks calls against the routes (openapi-typescript)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'confab-openapi-'));
    try {
      await writeFile(join(dir, 'schema.ts'), astToString(await openapiTS(structuredClone(docs) as never)));
      const use = (body: string) => `import type { operations, paths } from './schema';\n${body}\n`;
      await writeFile(
        join(dir, 'good.ts'),
        use(`
type List = operations['getConversationMessages'];
export const query: NonNullable<List['parameters']['query']> = { limit: 10 };
export const path: List['parameters']['path'] = { id: 'c1' };
type Page = List['responses'][200]['content']['application/json'];
export const contents = (page: Page): string[] => page.messages.map((m) => m.content);
type Failure = paths['/api/conversations/{id}/messages']['get']['responses'][404]['content']['application/json'];
export const code = (f: Failure): string => f.error.code;
export const secured: paths['/api/auth/login']['post']['requestBody'] extends undefined ? never : true = true;`),
      );
      // And it does catch mistakes: a parameter that route does not have.
      await writeFile(join(dir, 'bad.ts'), use(`export const path: operations['getConversationMessages']['parameters']['path'] = { conversationId: 'c1' };`));
      // One program for both files (type-checking is the slow part), its errors by file.
      const program = ts.createProgram([join(dir, 'good.ts'), join(dir, 'bad.ts')], {
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
      });
      const errors = (file: string) =>
        ts.getPreEmitDiagnostics(program, program.getSourceFile(join(dir, file))).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      expect(errors('good.ts')).toEqual([]);
      expect(errors('bad.ts').join('\n')).toMatch(/conversationId/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
