import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePdf } from '../../test/pdf.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';

/** GET /api/attachments/:id/text (addition, issue 18): the beginning of a text or PDF file's text, for members. */
let server: TestServer;
let alice: TestUser, bob: TestUser, mallory: TestUser;
let groupId: string;

beforeAll(async () => {
  server = await startTestServer();
  [alice, bob, mallory] = [await registerUser(server, 'alice'), await registerUser(server, 'bob'), await registerUser(server, 'mallory')];
  groupId = (await alice.api.post('/api/conversations/group', { title: 'Files', participantIds: [bob.id] })).body.id;
});
afterAll(async () => {
  await server?.close();
});

async function upload(user: TestUser, bytes: Buffer, name: string, type: string): Promise<string> {
  const t = await user.api.post('/api/attachments', { conversationId: groupId, name, type, size: bytes.byteLength });
  expect(t.status).toBe(201);
  const res = await fetch(server.url + t.body.uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': type }, body: new Uint8Array(bytes) });
  expect(res.status).toBe(200);
  return t.body.attachmentId;
}

const sendWith = (user: TestUser, id: string) =>
  user.api.post('/api/messages', { conversationId: groupId, content: '', kind: 'file', clientId: `t-${Math.random()}`, attachmentIds: [id] });

describe('GET /api/attachments/:id/text', () => {
  it('gives members the beginning of a text file or a PDF, null for an image, and nothing to others', async () => {
    const long = `Meeting notes\n${'line of text\n'.repeat(400)}`;
    const text = await upload(alice, Buffer.from(long), 'notes.txt', 'text/plain');
    // Not sent yet: only its uploader sees it.
    expect((await alice.api.get(`/api/attachments/${text}/text`)).status).toBe(200);
    expect((await bob.api.get(`/api/attachments/${text}/text`)).status).toBe(404);
    expect((await sendWith(alice, text)).status).toBe(201);
    const got = await bob.api.get(`/api/attachments/${text}/text`);
    expect(got.status).toBe(200);
    expect(got.body.text).toBe(long.slice(0, 2000));
    expect(got.body.truncated).toBe(true);

    const pdf = await upload(alice, makePdf('Quarterly report for the board'), 'report.pdf', 'application/pdf');
    expect((await sendWith(alice, pdf)).status).toBe(201);
    const pdfText = await bob.api.get(`/api/attachments/${pdf}/text`);
    expect(pdfText.status).toBe(200);
    expect(pdfText.body.text).toContain('Quarterly report for the board');
    expect(pdfText.body.truncated).toBe(false);

    const image = await upload(alice, await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer(), 'a.png', 'image/png');
    expect((await sendWith(alice, image)).status).toBe(201);
    expect((await bob.api.get(`/api/attachments/${image}/text`)).body).toEqual({ text: null, truncated: false });

    // A non-member and no session: the same 404 / 401 as for the file itself.
    const outsider = await mallory.api.get(`/api/attachments/${text}/text`);
    expect(outsider.status).toBe(404);
    expect(outsider.body.error.code).toBe('NOT_FOUND');
    expect((await fetch(`${server.url}/api/attachments/${text}/text`)).status).toBe(401);
  });
});
