import { existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAttachmentText } from '../../operations/attachments.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';
import { makePdf, markedPages } from '../../test/pdf.ts';

const MAX_FILE_BYTES = 1024 * 1024;
let server: TestServer;
let alice: TestUser, bob: TestUser, mallory: TestUser;
let groupId: string;

beforeAll(async () => {
  server = await startTestServer({}, { files: { maxFileBytes: MAX_FILE_BYTES }, jobs: { pollIntervalMs: 20, backoffBaseMs: 20 } });
  [alice, bob, mallory] = await Promise.all([registerUser(server, 'alice'), registerUser(server, 'bob'), registerUser(server, 'mallory')]);
  const group = await alice.api.post('/api/conversations/group', { title: 'Files', participantIds: [bob.id] });
  groupId = group.body.id;
});
afterAll(() => server?.close());

interface Uploaded {
  id: string;
  uploadUrl: string;
  status: number;
  body: any;
}

async function ticket(user: TestUser, conversationId: string, name: string, type: string, size: number, extra: Record<string, unknown> = {}) {
  return user.api.post('/api/attachments', { conversationId, name, type, size, ...extra });
}

async function put(user: TestUser, uploadUrl: string, bytes: Buffer | string, type = 'application/octet-stream') {
  const res = await fetch(server.url + uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': type }, body: typeof bytes === 'string' ? bytes : new Uint8Array(bytes) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function upload(user: TestUser, bytes: Buffer | string, name: string, type: string, extra: Record<string, unknown> = {}, conversationId = groupId): Promise<Uploaded> {
  const t = await ticket(user, conversationId, name, type, Buffer.byteLength(bytes), extra);
  expect(t.status).toBe(201);
  const res = await put(user, t.body.uploadUrl, bytes, type);
  return { id: t.body.attachmentId, uploadUrl: t.body.uploadUrl, ...res };
}

async function download(user: TestUser, url: string, headers: Record<string, string> = {}) {
  const res = await fetch(server.url + url, { headers: { authorization: `Bearer ${user.accessToken}`, ...headers } });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

let n = 0;
const send = (user: TestUser, body: Record<string, unknown>) => user.api.post('/api/messages', { conversationId: groupId, content: '', clientId: `f-${++n}-${Math.random()}`, ...body });

const filesRoot = () => path.join(server.config.dataDir, 'files');
const storedFile = (conversationId: string, id: string, variant = 'original') => path.join(filesRoot(), conversationId, id, variant);

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function photo(opts: { width?: number; height?: number; gps?: boolean; orientation?: number } = {}): Promise<Buffer> {
  let image = sharp({ create: { width: opts.width ?? 800, height: opts.height ?? 600, channels: 3, background: { r: 200, g: 30, b: 30 } } }).jpeg();
  if (opts.gps) {
    image = image.withExif({
      IFD0: { Make: 'TestCam', Model: 'Leaky 1' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2400/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 17/1 4000/100' },
    });
  }
  const buffer = await image.toBuffer();
  return opts.orientation ? sharp(buffer).withMetadata({ orientation: opts.orientation }).jpeg().toBuffer() : buffer;
}

describe('upload, message, download', () => {
  it('a member downloads what another member attached to a message', async () => {
    const bytes = Buffer.from('hello, this is the minutes of the meeting\n'.repeat(50));
    const up = await upload(alice, bytes, 'minutes.txt', 'text/plain');
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ id: up.id, name: 'minutes.txt', type: 'text/plain', size: bytes.length, hasPreview: false });

    const msg = await send(alice, { content: 'see attached', kind: 'file', attachmentIds: [up.id] });
    expect(msg.status).toBe(201);
    expect(msg.body.attachments).toEqual([up.body]);
    const history = await bob.api.get(`/api/messages/${groupId}?limit=1`);
    expect(history.body.messages[0].attachments).toEqual([up.body]);

    const got = await download(bob, `/api/attachments/${up.id}`);
    expect(got.status).toBe(200);
    expect(got.bytes.equals(bytes)).toBe(true);
    expect(got.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(got.headers.get('content-disposition')).toBe(`attachment; filename="minutes.txt"; filename*=UTF-8''minutes.txt`);
    expect(got.headers.get('x-content-type-options')).toBe('nosniff');
    expect(got.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
    expect(got.headers.get('content-length')).toBe(String(bytes.length));
    expect(got.headers.get('accept-ranges')).toBe('bytes');
    // Text is kept for the AI assistant to read.
    expect(await getAttachmentText(server.ctx, up.id)).toBe(bytes.toString());
    expect(await getAttachmentText(server.ctx, up.id, { userId: bob.id })).toBe(bytes.toString());
    await expect(getAttachmentText(server.ctx, up.id, { userId: mallory.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('images get dimensions, a WebP preview, and are served inline', async () => {
    const up = await upload(alice, await photo({ width: 1600, height: 1200 }), 'big.jpg', 'image/jpeg');
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ type: 'image/jpeg', width: 1600, height: 1200, hasPreview: true });
    expect((await send(alice, { kind: 'image', attachmentIds: [up.id] })).status).toBe(201);
    const original = await download(bob, `/api/attachments/${up.id}`);
    expect(original.headers.get('content-type')).toBe('image/jpeg');
    expect(original.headers.get('content-disposition')).toMatch(/^inline; /);
    const preview = await download(bob, `/api/attachments/${up.id}/preview`);
    expect(preview.status).toBe(200);
    expect(preview.headers.get('content-type')).toBe('image/webp');
    expect(preview.headers.get('x-content-type-options')).toBe('nosniff');
    const meta = await sharp(preview.bytes).metadata();
    expect(meta.format).toBe('webp');
    expect(Math.max(meta.width!, meta.height!)).toBe(512);
    // No preview for a text file.
    const text = await upload(alice, 'just text', 'a.txt', 'text/plain');
    await send(alice, { content: 'x', attachmentIds: [text.id] });
    expect((await download(bob, `/api/attachments/${text.id}/preview`)).status).toBe(404);
  });

  it('a repeated send (same clientId) returns the first message, attachments included', async () => {
    const up = await upload(alice, 'retry me', 'r.txt', 'text/plain');
    const body = { conversationId: groupId, content: 'once', clientId: `retry-${Math.random()}`, attachmentIds: [up.id] };
    const first = await alice.api.post('/api/messages', body);
    const again = await alice.api.post('/api/messages', body);
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.attachments.map((a: any) => a.id)).toEqual([up.id]);
  });

  it('supports range requests, HEAD and revalidation', async () => {
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const up = await upload(alice, bytes, 'data.bin', 'application/octet-stream');
    await send(alice, { content: 'bin', attachmentIds: [up.id] });
    const part = await download(bob, `/api/attachments/${up.id}`, { range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 100-199/1000');
    expect(part.headers.get('content-length')).toBe('100');
    expect(part.bytes.equals(bytes.subarray(100, 200))).toBe(true);
    const open = await download(bob, `/api/attachments/${up.id}`, { range: 'bytes=990-' });
    expect(open.status).toBe(206);
    expect(open.bytes.equals(bytes.subarray(990))).toBe(true);
    const suffix = await download(bob, `/api/attachments/${up.id}`, { range: 'bytes=-10' });
    expect(suffix.headers.get('content-range')).toBe('bytes 990-999/1000');
    expect(suffix.bytes.equals(bytes.subarray(990))).toBe(true);
    const past = await download(bob, `/api/attachments/${up.id}`, { range: 'bytes=1000-1100' });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe('bytes */1000');
    // A stale If-Range gets the whole file.
    const stale = await download(bob, `/api/attachments/${up.id}`, { range: 'bytes=0-9', 'if-range': '"other"' });
    expect(stale.status).toBe(200);
    expect(stale.bytes.length).toBe(1000);
    const head = await fetch(`${server.url}/api/attachments/${up.id}`, { method: 'HEAD', headers: { authorization: `Bearer ${bob.accessToken}` } });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('1000');
    const etag = part.headers.get('etag')!;
    expect((await download(bob, `/api/attachments/${up.id}`, { 'if-none-match': etag })).status).toBe(304);
  });
});

describe('access', () => {
  it('a non-member gets 404 on the file, its preview and its upload URL', async () => {
    const up = await upload(alice, await photo(), 'p.jpg', 'image/jpeg');
    await send(alice, { kind: 'image', attachmentIds: [up.id] });
    expect((await download(mallory, `/api/attachments/${up.id}`)).status).toBe(404);
    expect((await download(mallory, `/api/attachments/${up.id}/preview`)).status).toBe(404);
    expect((await download(bob, `/api/attachments/${up.id}`)).status).toBe(200);

    // A fresh upload URL, stolen: useless to anyone but its uploader.
    const t = await ticket(alice, groupId, 'secret.txt', 'text/plain', 5);
    const stolen = await put(mallory, t.body.uploadUrl, 'hello');
    expect(stolen.status).toBe(404);
    expect(stolen.body.error.code).toBe('NOT_FOUND');
    expect((await put(bob, t.body.uploadUrl, 'hello')).status).toBe(404);
    // Nor may a non-member ask for a ticket.
    expect((await ticket(mallory, groupId, 'x.txt', 'text/plain', 5)).status).toBe(404);
    // And it still works for its uploader.
    expect((await put(alice, t.body.uploadUrl, 'hello')).status).toBe(200);
    // Until a message uses it, the upload is its uploader's alone.
    expect((await download(bob, `/api/attachments/${t.body.attachmentId}`)).status).toBe(404);
    expect((await download(alice, `/api/attachments/${t.body.attachmentId}`)).status).toBe(200);
    // Without a token, 401 before anything else.
    expect((await fetch(`${server.url}/api/attachments/${up.id}`)).status).toBe(401);
  });

  it('refuses an expired or tampered upload URL', async () => {
    const t = await ticket(alice, groupId, 'a.txt', 'text/plain', 5);
    const url = new URL(t.body.uploadUrl, server.url);
    const id = t.body.attachmentId;
    const past = Math.floor(Date.now() / 1000) - 5;
    const expired = `/api/attachments/${id}/upload?expires=${past}&signature=${server.ctx.files.signer.sign(id, alice.id, past)}`;
    const e = await put(alice, expired, 'hello');
    expect(e.status).toBe(403);
    expect(e.body.error.message).toMatch(/expired/);
    // A later expiry with the old signature.
    const extended = `/api/attachments/${id}/upload?expires=${Number(url.searchParams.get('expires')) + 3600}&signature=${url.searchParams.get('signature')}`;
    expect((await put(alice, extended, 'hello')).status).toBe(403);
    const sig = url.searchParams.get('signature')!;
    const flipped = `${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
    expect((await put(alice, `/api/attachments/${id}/upload?expires=${url.searchParams.get('expires')}&signature=${flipped}`, 'hello')).status).toBe(403);
    // Another attachment's signature does not open this one.
    const other = await ticket(alice, groupId, 'b.txt', 'text/plain', 5);
    const otherSig = new URL(other.body.uploadUrl, server.url).searchParams;
    expect((await put(alice, `/api/attachments/${id}/upload?expires=${otherSig.get('expires')}&signature=${otherSig.get('signature')}`, 'hello')).status).toBe(403);
    expect((await put(alice, `/api/attachments/${id}/upload`, 'hello')).status).toBe(400);
    // The genuine URL still works, once.
    expect((await put(alice, t.body.uploadUrl, 'hello')).status).toBe(200);
    expect((await put(alice, t.body.uploadUrl, 'hello')).status).toBe(409);
  });

  it('only the sender’s own complete, unused attachments of this conversation go into a message', async () => {
    const mine = await upload(alice, 'mine', 'm.txt', 'text/plain');
    expect((await send(bob, { content: 'stealing', attachmentIds: [mine.id] })).status).toBe(404);
    const other = await alice.api.post('/api/conversations/group', { title: 'Other', participantIds: [bob.id] });
    const elsewhere = await upload(alice, 'elsewhere', 'e.txt', 'text/plain', {}, other.body.id);
    expect((await send(alice, { content: 'wrong conversation', attachmentIds: [elsewhere.id] })).status).toBe(404);
    const pending = await ticket(alice, groupId, 'p.txt', 'text/plain', 4);
    const notYet = await send(alice, { content: 'too early', attachmentIds: [mine.id, pending.body.attachmentId] });
    expect(notYet.status).toBe(409);
    // The failed send attached nothing: `mine` is still free.
    expect((await send(alice, { content: 'now', attachmentIds: [mine.id] })).status).toBe(201);
    expect((await send(alice, { content: 'twice', attachmentIds: [mine.id] })).status).toBe(409);
    const dup = await upload(alice, 'dup', 'd.txt', 'text/plain');
    expect((await send(alice, { content: 'dup', attachmentIds: [dup.id, dup.id] })).status).toBe(400);
    expect((await send(alice, { content: '', kind: 'file' })).status).toBe(400);
  });

  it('two concurrent sends of one attachment: exactly one gets it', async () => {
    const up = await upload(alice, 'contested', 'c.txt', 'text/plain');
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => send(alice, { content: `race ${i}`, attachmentIds: [up.id] })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(3);
    const list = await alice.api.get(`/api/messages/${groupId}?limit=10`);
    expect(list.body.messages.filter((m: any) => m.attachments.some((a: any) => a.id === up.id))).toHaveLength(1);
  });
});

describe('limits', () => {
  it('refuses a declared size over the limit up front', async () => {
    const res = await ticket(alice, groupId, 'huge.bin', 'application/octet-stream', MAX_FILE_BYTES + 1);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses a Content-Length over the declared size before reading', async () => {
    const t = await ticket(alice, groupId, 'small.bin', 'application/octet-stream', 10);
    const res = await put(alice, t.body.uploadUrl, Buffer.alloc(11));
    expect(res.status).toBe(413);
  });

  it('stops reading a streamed body as soon as it passes the declared size', async () => {
    const declared = 256 * 1024;
    const t = await ticket(alice, groupId, 'liar.bin', 'application/octet-stream', declared);
    const total = 32 * 1024 * 1024;
    const result = await slowUpload(`${server.url}${t.body.uploadUrl}`, alice.accessToken, total);
    expect(result.status).toBe(413);
    // The answer came while the client was still sending: the server did not wait for the body.
    expect(result.sentAtResponse).toBeGreaterThan(0);
    expect(result.sentAtResponse).toBeLessThan(8 * 1024 * 1024);
    expect(result.totalSent).toBeLessThan(total);
    // Nothing kept: no scratch file, nothing stored, and the attachment cannot be used.
    await eventually(() => readdirSync(path.join(filesRoot(), '.tmp')).length === 0);
    expect(existsSync(storedFile(groupId, t.body.attachmentId))).toBe(false);
    expect((await send(alice, { content: 'x', attachmentIds: [t.body.attachmentId] })).status).toBe(409);
    // The server is fine afterwards.
    expect((await alice.api.get('/api/auth/me')).status).toBe(200);
  });

  it('refuses a body shorter than declared, and the upload can be retried', async () => {
    const t = await ticket(alice, groupId, 'short.txt', 'text/plain', 10);
    const res = await put(alice, t.body.uploadUrl, 'only5');
    expect(res.status).toBe(400);
    expect((await put(alice, t.body.uploadUrl, '0123456789')).status).toBe(200);
  });
});

describe('upload caps per user', () => {
  let capped: TestServer;
  beforeAll(async () => {
    capped = await startTestServer({ rateLimits: true }, { files: { uploadsPerHour: 3, uploadBytesPerDay: 1000 } });
  });
  afterAll(() => capped?.close());

  it('refuses tickets over the count or the bytes a user may upload, with Retry-After; others are not affected', async () => {
    const [ann, ben] = await Promise.all([registerUser(capped, 'ann'), registerUser(capped, 'ben')]);
    const conv = (await ann.api.post('/api/conversations/group', { title: 'Caps', participantIds: [ben.id] })).body.id;
    const ask = (user: TestUser, size: number) => user.api.post('/api/attachments', { conversationId: conv, name: 'f.txt', type: 'text/plain', size });
    for (let i = 0; i < 3; i++) expect((await ask(ann, 10)).status).toBe(201);
    const tooMany = await ask(ann, 10);
    expect(tooMany.status).toBe(429);
    expect(tooMany.body.error.code).toBe('RATE_LIMITED');
    expect(Number(tooMany.headers.get('retry-after'))).toBeGreaterThan(0);

    expect((await ask(ben, 900)).status).toBe(201);
    const tooBig = await ask(ben, 200);
    expect(tooBig.status).toBe(429);
    expect(tooBig.body.error.details.retryAfterMs).toBeGreaterThan(0);
  });
});

describe('PDF text limits', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startTestServer({}, { files: { pdfMaxPages: 3 }, jobs: { pollIntervalMs: 20, backoffBaseMs: 20 } });
  });
  afterAll(() => limited?.close());

  it('a PDF over the page limit is stored and served as usual, with the text of its first pages', async () => {
    const [ann, ben] = await Promise.all([registerUser(limited, 'ann'), registerUser(limited, 'ben')]);
    const conv = (await ann.api.post('/api/conversations/group', { title: 'Long reads', participantIds: [ben.id] })).body.id;
    const bytes = makePdf(markedPages(8));
    const t = await ann.api.post('/api/attachments', { conversationId: conv, name: 'long.pdf', type: 'application/pdf', size: bytes.length });
    const res = await fetch(limited.url + t.body.uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${ann.accessToken}`, 'content-type': 'application/pdf' }, body: new Uint8Array(bytes) });
    expect(res.status).toBe(200);
    const id = t.body.attachmentId;
    await ann.api.post('/api/messages', { conversationId: conv, content: 'read this', clientId: 'long-pdf', kind: 'file', attachmentIds: [id] });
    const got = await fetch(`${limited.url}/api/attachments/${id}`, { headers: { authorization: `Bearer ${ben.accessToken}` } });
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
    const text = await getAttachmentText(limited.ctx, id);
    expect(text).toContain('page 3 marker');
    expect(text).not.toContain('page 4 marker');
  });
});

describe('what a file is', () => {
  it('a .png that is really HTML is served as a download, never as a page or an image', async () => {
    const html = '<!doctype html><html><body><script>alert(document.cookie)</script></body></html>';
    const up = await upload(alice, html, 'cute-cat.png', 'image/png');
    expect(up.status).toBe(200);
    expect(up.body.type).toBe('text/html');
    expect(up.body.hasPreview).toBe(false);
    // Not an image, so not an image message.
    expect((await send(alice, { kind: 'image', attachmentIds: [up.id] })).status).toBe(400);
    expect((await send(alice, { content: 'a cat', attachmentIds: [up.id] })).status).toBe(201);
    const got = await download(bob, `/api/attachments/${up.id}`);
    expect(got.headers.get('content-type')).toBe('application/octet-stream');
    expect(got.headers.get('content-disposition')).toMatch(/^attachment; /);
    expect(got.headers.get('x-content-type-options')).toBe('nosniff');
    expect(got.headers.get('content-security-policy')).toContain('sandbox');
  });

  it('an SVG is a download', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="5"/></svg>';
    const up = await upload(alice, svg, 'logo.svg', 'image/svg+xml');
    expect(up.body.type).toBe('image/svg+xml');
    await send(alice, { content: 'logo', attachmentIds: [up.id] });
    const got = await download(bob, `/api/attachments/${up.id}`);
    expect(got.headers.get('content-type')).toBe('application/octet-stream');
    expect(got.headers.get('content-disposition')).toMatch(/^attachment; /);
  });

  it('a JPEG claimed as a text file is a JPEG (the bytes decide)', async () => {
    const up = await upload(alice, await photo(), 'notes.txt', 'text/plain');
    expect(up.body).toMatchObject({ type: 'image/jpeg', hasPreview: true });
  });

  it('strips EXIF (GPS position included) from the stored original and the preview', async () => {
    const input = await photo({ gps: true, orientation: 6 });
    const before = await sharp(input).metadata();
    expect(before.exif).toBeDefined();
    expect(before.exif!.includes(Buffer.from('Leaky 1'))).toBe(true);
    expect(before.orientation).toBe(6);

    const up = await upload(alice, input, 'holiday.jpg', 'image/jpeg');
    // The orientation is applied to the pixels: 800×600 rotated a quarter turn.
    expect(up.body).toMatchObject({ type: 'image/jpeg', width: 600, height: 800 });
    await send(alice, { kind: 'image', attachmentIds: [up.id] });
    for (const url of [`/api/attachments/${up.id}`, `/api/attachments/${up.id}/preview`]) {
      const got = await download(bob, url);
      expect(got.status).toBe(200);
      const meta = await sharp(got.bytes).metadata();
      expect(meta.exif).toBeUndefined();
      expect(meta.xmp).toBeUndefined();
      expect(meta.orientation ?? 1).toBe(1);
      expect(got.bytes.includes(Buffer.from('Exif\0\0'))).toBe(false);
      expect(got.bytes.includes(Buffer.from('Leaky 1'))).toBe(false);
    }
  });

  it('extracts the text of a PDF for the AI assistant', async () => {
    const up = await upload(alice, makePdf('Quarterly numbers are up'), 'report.pdf', 'application/pdf');
    expect(up.body.type).toBe('application/pdf');
    // Extracted by a job; asked for early, it is read on the spot.
    expect(await getAttachmentText(server.ctx, up.id)).toContain('Quarterly numbers are up');
    const got = await download(alice, `/api/attachments/${up.id}`);
    expect(got.headers.get('content-disposition')).toMatch(/^attachment; /);
    // Not text at all: nothing to read.
    const image = await upload(alice, await photo(), 'x.jpg', 'image/jpeg');
    expect(await getAttachmentText(server.ctx, image.id)).toBeNull();
  });

  it('makes names in paths harmless', async () => {
    const names: Array<[string, string]> = [
      ['../../../etc/passwd', 'passwd'],
      ['..\\..\\windows\\win.ini', 'win.ini'],
      ['/absolute/secret.txt', 'secret.txt'],
      ['..', 'file'],
      ['evil\u202egpj.exe', 'evilgpj.exe'],
      ['résumé "final".txt', 'résumé "final".txt'],
    ];
    for (const [name, shown] of names) {
      const up = await upload(alice, 'contents', name, 'text/plain');
      expect(up.status).toBe(200);
      expect(up.body.name).toBe(shown);
      await send(alice, { content: 'n', attachmentIds: [up.id] });
      const got = await download(bob, `/api/attachments/${up.id}`);
      expect(got.bytes.toString()).toBe('contents');
      const disposition = got.headers.get('content-disposition')!;
      expect(disposition).not.toMatch(/[/\\]/);
      expect(disposition).toContain(`filename*=UTF-8''${encodeURIComponent(shown).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`);
      // Stored under ids only.
      expect(existsSync(storedFile(groupId, up.id))).toBe(true);
    }
    expect(existsSync(path.join(server.config.dataDir, 'etc'))).toBe(false);
    expect(readdirSync(filesRoot()).every((entry) => entry === '.tmp' || /^[A-Za-z0-9_-]+$/.test(entry))).toBe(true);
  });
});

describe('voice messages', () => {
  it('need exactly one audio attachment with its duration', async () => {
    const withDuration = await upload(alice, wav(0.25), 'voice.wav', 'audio/wav', { durationMs: 250 });
    expect(withDuration.body).toMatchObject({ type: 'audio/wav', durationMs: 250 });
    const msg = await send(alice, { kind: 'voice', attachmentIds: [withDuration.id] });
    expect(msg.status).toBe(201);
    expect(msg.body.attachments[0]).toMatchObject({ type: 'audio/wav', durationMs: 250 });
    const got = await download(bob, `/api/attachments/${withDuration.id}`);
    expect(got.headers.get('content-type')).toBe('audio/wav');
    expect(got.headers.get('content-disposition')).toMatch(/^inline; /);

    const noDuration = await upload(alice, wav(0.1), 'v.wav', 'audio/wav');
    expect((await send(alice, { kind: 'voice', attachmentIds: [noDuration.id] })).status).toBe(400);
    const image = await upload(alice, await photo(), 'v.jpg', 'image/jpeg', { durationMs: 1000 });
    expect(image.body.durationMs).toBeNull();
    expect((await send(alice, { kind: 'voice', attachmentIds: [image.id] })).status).toBe(400);
    const a = await upload(alice, wav(0.1), 'a.wav', 'audio/wav', { durationMs: 100 });
    const b = await upload(alice, wav(0.1), 'b.wav', 'audio/wav', { durationMs: 100 });
    expect((await send(alice, { kind: 'voice', attachmentIds: [a.id, b.id] })).status).toBe(400);
  });
});

describe('deleting', () => {
  it('deleting a message deletes its files', async () => {
    const up = await upload(alice, await photo(), 'gone.jpg', 'image/jpeg');
    const msg = await send(alice, { kind: 'image', attachmentIds: [up.id] });
    expect(existsSync(storedFile(groupId, up.id))).toBe(true);
    expect(existsSync(storedFile(groupId, up.id, 'preview'))).toBe(true);
    expect((await alice.api.delete(`/api/messages/${msg.body.id}`)).status).toBe(200);
    expect((await download(bob, `/api/attachments/${up.id}`)).status).toBe(404);
    expect((await download(alice, `/api/attachments/${up.id}/preview`)).status).toBe(404);
    await eventually(() => !existsSync(path.join(filesRoot(), groupId, up.id)));
  });

  it('deleting a conversation deletes its files', async () => {
    const conv = await alice.api.post('/api/conversations/group', { title: 'Doomed', participantIds: [bob.id] });
    const up = await upload(alice, 'doomed', 'd.txt', 'text/plain', {}, conv.body.id);
    const unsent = await upload(alice, 'never sent', 'u.txt', 'text/plain', {}, conv.body.id);
    await alice.api.post('/api/messages', { conversationId: conv.body.id, content: 'x', clientId: 'doomed-1', attachmentIds: [up.id] });
    expect(existsSync(storedFile(conv.body.id, up.id))).toBe(true);
    expect(existsSync(storedFile(conv.body.id, unsent.id))).toBe(true);
    expect((await alice.api.delete(`/api/conversations/${conv.body.id}`)).status).toBe(204);
    await eventually(() => !existsSync(path.join(filesRoot(), conv.body.id)));
  });

  it('the uploader can cancel an unsent upload; abandoned ones are swept', async () => {
    const up = await upload(alice, 'cancel me', 'c.txt', 'text/plain');
    expect((await bob.api.delete(`/api/attachments/${up.id}`)).status).toBe(404);
    expect((await alice.api.delete(`/api/attachments/${up.id}`)).status).toBe(204);
    await eventually(() => !existsSync(path.join(filesRoot(), groupId, up.id)));

    const old = await upload(alice, 'forgotten', 'f.txt', 'text/plain');
    await server.ctx.db.query(`UPDATE attachments SET created_at = now() - interval '2 days' WHERE id = $1`, [old.id]);
    const { sweepAbandonedUploads } = await import('../../operations/attachments.ts');
    expect(await sweepAbandonedUploads(server.ctx)).toBe(1);
    await eventually(() => !existsSync(path.join(filesRoot(), groupId, old.id)));
  });
});

// ---- helpers ----

/** PUTs `total` bytes in chunks, a little at a time, and notes how much was sent when the answer came. */
function slowUpload(url: string, token: string, total: number): Promise<{ status?: number; sentAtResponse: number; totalSent: number; error?: string }> {
  return new Promise((resolve) => {
    const chunk = Buffer.alloc(64 * 1024, 7);
    let sent = 0;
    let sentAtResponse = -1;
    let status: number | undefined;
    let error: string | undefined;
    let stopped = false;
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      resolve({ ...(status !== undefined ? { status } : {}), sentAtResponse, totalSent: sent, ...(error ? { error } : {}) });
    };
    const req = http.request(url, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' } });
    req.on('response', (res) => {
      status = res.statusCode;
      sentAtResponse = sent;
      stopped = true;
      res.resume();
      res.on('end', () => {
        req.destroy();
        setTimeout(done, 50);
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
      stopped = true;
      setTimeout(done, 200);
    });
    req.on('close', () => setTimeout(done, 200));
    const pump = () => {
      while (!stopped && sent < total) {
        const ok = req.write(chunk);
        sent += chunk.length;
        if (!ok) {
          req.once('drain', () => setTimeout(pump, 1));
          return;
        }
        setTimeout(pump, 1);
        return;
      }
      if (!stopped) req.end();
    };
    pump();
  });
}

/** A mono 8 kHz 16-bit WAV of silence. */
function wav(seconds: number): Buffer {
  const samples = Math.round(8000 * seconds);
  const data = Buffer.alloc(samples * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(16000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

