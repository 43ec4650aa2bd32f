import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';
import { signV4 } from './s3.ts';

const credentials = { accessKeyId: 'AKIDCONFABTEST', secretAccessKey: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ' };

describe('AWS Signature Version 4', () => {
  it('matches the GET Object example of the S3 documentation', () => {
    const emptyHash = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    expect(
      signV4({
        method: 'GET',
        path: '/test.txt',
        headers: { host: 'examplebucket.s3.amazonaws.com', range: 'bytes=0-9', 'x-amz-content-sha256': emptyHash, 'x-amz-date': '20130524T000000Z' },
        payloadHash: emptyHash,
        region: 'us-east-1',
        accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
        secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
        amzDate: '20130524T000000Z',
      }),
    ).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });
});

/** An in-memory S3 (path style) that checks every request's signature. */
class FakeS3 {
  readonly objects = new Map<string, { body: Buffer; type: string }>();
  readonly refused: string[] = [];
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const auth = String(req.headers.authorization ?? '');
      const signedNames = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
      const expected = signV4({
        method: req.method!,
        path,
        headers: Object.fromEntries(signedNames.map((n) => [n, String(req.headers[n])])),
        payloadHash: String(req.headers['x-amz-content-sha256']),
        region: 'us-east-1',
        ...credentials,
        amzDate: String(req.headers['x-amz-date']),
      });
      if (auth !== expected || !signedNames.includes('host')) {
        this.refused.push(`${req.method} ${path}`);
        res.writeHead(403).end('<Error><Code>SignatureDoesNotMatch</Code></Error>');
        return;
      }
      const object = this.objects.get(path);
      if (req.method === 'PUT') {
        this.objects.set(path, { body: Buffer.concat(chunks), type: String(req.headers['content-type']) });
        res.writeHead(200).end();
      } else if (req.method === 'DELETE') {
        this.objects.delete(path);
        res.writeHead(204).end();
      } else if (!object) {
        res.writeHead(404).end('<Error><Code>NoSuchKey</Code></Error>');
      } else {
        const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
        if (range) {
          const [start, end] = [Number(range[1]), Number(range[2])];
          res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${object.body.length}` }).end(object.body.subarray(start, end + 1));
        } else res.writeHead(200, { 'content-type': object.type }).end(object.body);
      }
    });
  });
  url = '';
  async start() {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }
  async close() {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('S3-compatible storage', () => {
  let s3: FakeS3;
  let server: TestServer;
  let alice: TestUser, bob: TestUser;
  beforeAll(async () => {
    s3 = await new FakeS3().start();
    server = await startTestServer({}, {
      files: { s3: { endpoint: s3.url, bucket: 'confab', region: 'us-east-1', ...credentials, prefix: 'node-a/', pathStyle: true } },
      jobs: { pollIntervalMs: 20 },
    });
    [alice, bob] = await Promise.all([registerUser(server, 'alice'), registerUser(server, 'bob')]);
  });
  afterAll(async () => {
    await server?.close();
    await s3?.close();
  });

  it('stores, serves (with ranges) and deletes through the object store', async () => {
    const conv = (await alice.api.post('/api/conversations/group', { title: 'S3', participantIds: [bob.id] })).body.id;
    const jpeg = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#3366cc' } }).jpeg().toBuffer();
    const ticket = await alice.api.post('/api/attachments', { conversationId: conv, name: 'pic.jpg', type: 'image/jpeg', size: jpeg.length });
    const id = ticket.body.attachmentId;
    const put = await fetch(server.url + ticket.body.uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${alice.accessToken}` }, body: new Uint8Array(jpeg) });
    expect(put.status).toBe(200);
    expect([...s3.objects.keys()].sort()).toEqual([`/confab/node-a/${conv}/${id}/original`, `/confab/node-a/${conv}/${id}/preview`]);
    expect(s3.objects.get(`/confab/node-a/${conv}/${id}/preview`)!.type).toBe('image/webp');
    const message = await alice.api.post('/api/messages', { conversationId: conv, content: '', kind: 'image', clientId: 's3-1', attachmentIds: [id] });
    expect(message.status).toBe(201);

    const stored = s3.objects.get(`/confab/node-a/${conv}/${id}/original`)!.body;
    const full = await fetch(`${server.url}/api/attachments/${id}`, { headers: { authorization: `Bearer ${bob.accessToken}` } });
    expect(Buffer.from(await full.arrayBuffer()).equals(stored)).toBe(true);
    const part = await fetch(`${server.url}/api/attachments/${id}`, { headers: { authorization: `Bearer ${bob.accessToken}`, range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(stored.subarray(10, 20))).toBe(true);
    const preview = await fetch(`${server.url}/api/attachments/${id}/preview`, { headers: { authorization: `Bearer ${bob.accessToken}` } });
    expect((await sharp(Buffer.from(await preview.arrayBuffer())).metadata()).format).toBe('webp');

    await alice.api.delete(`/api/messages/${message.body.id}`);
    const deadline = Date.now() + 5000;
    while (s3.objects.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(s3.objects.size).toBe(0);
    expect(s3.refused).toEqual([]);
  });
});
