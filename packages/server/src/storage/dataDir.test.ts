import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';

/** Every folder and file under `root` (root included) whose mode is not 0700 / 0600. */
function loose(root: string): string[] {
  const bad: string[] = [];
  const visit = (p: string) => {
    const info = lstatSync(p);
    const mode = info.mode & 0o777;
    if (info.isDirectory()) {
      if (mode !== 0o700) bad.push(`${mode.toString(8)} ${p}/`);
      for (const name of readdirSync(p)) visit(path.join(p, name));
    } else if (mode !== 0o600) bad.push(`${mode.toString(8)} ${p}`);
  };
  visit(root);
  return bad;
}

function count(root: string): number {
  let n = 0;
  const visit = (p: string) => {
    n++;
    if (lstatSync(p).isDirectory()) for (const name of readdirSync(p)) visit(path.join(p, name));
  };
  visit(root);
  return n;
}

async function activity(server: TestServer): Promise<void> {
  const alice: TestUser = await registerUser(server, 'alice');
  const bob = await registerUser(server, 'bob');
  const group = await alice.api.post('/api/conversations/group', { title: 'Modes', participantIds: [bob.id] });
  expect(group.status).toBe(201);
  const bytes = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 9, g: 99, b: 199 } } })
    .jpeg()
    .toBuffer();
  const ticket = await alice.api.post('/api/attachments', { conversationId: group.body.id, name: 'p.jpg', type: 'image/jpeg', size: bytes.length });
  expect(ticket.status).toBe(201);
  const put = await fetch(server.url + ticket.body.uploadUrl, {
    method: 'PUT',
    headers: { authorization: `Bearer ${alice.accessToken}`, 'content-type': 'image/jpeg' },
    body: new Uint8Array(bytes),
  });
  expect(put.status).toBeLessThan(300);
  const sent = await alice.api.post('/api/messages', { conversationId: group.body.id, content: 'with a photo', clientId: 'modes-1', attachmentIds: [ticket.body.attachmentId] });
  expect(sent.status).toBe(201);
  const files = path.join(server.config.dataDir, 'files');
  expect(count(files)).toBeGreaterThan(2);
}

describe('DATA_DIR is private to its owner whatever the umask', () => {
  let umask: number;
  beforeEach(() => {
    umask = process.umask(0);
  });
  afterEach(() => {
    process.umask(umask);
  });

  it('a new DATA_DIR: folder 0700, every file 0600 after register, send and upload', async () => {
    const parent = mkdtempSync(path.join(tmpdir(), 'confab-new-'));
    const dataDir = path.join(parent, 'data');
    try {
      const server = await startTestServer({ dataDir });
      try {
        await activity(server);
        expect(count(dataDir)).toBeGreaterThan(3);
        expect(loose(dataDir)).toEqual([]);
      } finally {
        await server.close();
      }
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('a DATA_DIR left by an older version (0755 folder, 0666 files) is tightened at start', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'confab-old-'));
    try {
      chmodSync(dataDir, 0o755);
      mkdirSync(path.join(dataDir, 'files', 'c1', 'a1'), { recursive: true, mode: 0o777 });
      writeFileSync(path.join(dataDir, 'files', 'c1', 'a1', 'original'), 'bytes', { mode: 0o666 });
      writeFileSync(path.join(dataDir, 'secret.json'), JSON.stringify({ secrets: ['an old secret'] }), { mode: 0o644 });
      const server = await startTestServer({ dataDir });
      try {
        await activity(server);
        expect(loose(dataDir)).toEqual([]);
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
