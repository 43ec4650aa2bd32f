import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelCapabilities } from '../ai/models.ts';
import { MAX_IMAGE_BYTES } from './attachments.ts';
import { connect, ok, waitFor, type Client } from '../realtime/test/kit.ts';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../test/fakeOpenAI.ts';
import { makePdf } from '../test/pdf.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';

/**
 * Attachments given to the model with their message (issue 22): checked on the requests the local
 * OpenAI-compatible provider received, so on what the AI SDK really sent. The vision model is
 * named vision by CONFAB_VISION_MODELS (a prefix); the text model is unknown, so it has none.
 */
const VISION = 'openai:vision-test';
const TEXT_ONLY = 'openai:text-test';
const CONTEXT_CHARS = 24_000;

let fake: FakeOpenAI;
let server: TestServer;
let alice: TestUser, bob: TestUser;
let socket: Client, bobSocket: Client;
let png: Buffer;

beforeAll(async () => {
  fake = await startFakeOpenAI({ defaultDelayMs: 1 });
  server = await startTestServer({ ai: testAiConfig(fake.url, [VISION, TEXT_ONLY], { visionModels: ['openai:vision-*'], contextChars: CONTEXT_CHARS }) });
  [alice, bob] = [await registerUser(server, 'alice'), await registerUser(server, 'bob')];
  [socket, bobSocket] = [await connect(server.url, alice.accessToken), await connect(server.url, bob.accessToken)];
  png = await sharp({ create: { width: 24, height: 16, channels: 3, background: { r: 220, g: 30, b: 30 } } }).png().toBuffer();
});
afterAll(async () => {
  socket?.close();
  bobSocket?.close();
  await server?.close();
  await fake?.close();
});

async function conversation(user: TestUser, model: string): Promise<string> {
  const res = await user.api.post('/api/conversations/assistant', { model });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function upload(user: TestUser, conversationId: string, bytes: Buffer, name: string, type: string): Promise<string> {
  const t = await user.api.post('/api/attachments', { conversationId, name, type, size: bytes.byteLength });
  expect(t.status).toBe(201);
  const res = await fetch(server.url + t.body.uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': type }, body: new Uint8Array(bytes) });
  expect(res.status).toBe(200);
  return t.body.attachmentId;
}

type Done = { conversationId: string; messageId: string; status: string; content: string };
const done = (s: Client, match: (e: Done) => boolean) => waitFor<Done>(s, 'ai:done', match, 20_000);

/** Sends `content` with `attachmentIds` over REST and waits for the answer. */
async function ask(user: TestUser, s: Client, conversationId: string, content: string, attachmentIds: string[] = [], kind = 'file'): Promise<Done> {
  const ended = done(s, (e) => e.conversationId === conversationId);
  const res = await user.api.post('/api/messages', { conversationId, content, clientId: `c-${Math.random()}`, ...(attachmentIds.length ? { kind, attachmentIds } : {}) });
  expect(res.status).toBe(201);
  const answer = await ended;
  expect(answer.status).toBe('complete');
  return answer;
}

/** The chat messages (system prompt left out) of the latest answer request, as the provider got them. */
function lastPrompt(): { role: string; content: any }[] {
  const request = fake.requests.filter((r) => r.body?.stream === true).at(-1)!;
  return (request.body.messages as { role: string; content: any }[]).filter((m) => m.role !== 'system');
}

/** The characters of text the provider got, what CONFAB_AI_CONTEXT_CHARS bounds. */
const promptChars = (messages: { content: any }[]) =>
  messages.reduce((n, m) => n + (typeof m.content === 'string' ? m.content.length : (m.content as { text?: string }[]).reduce((k, p) => k + (p.text?.length ?? 0), 0)), 0);

/** All the text the provider got, image parts left out. */
const promptText = (messages: { content: any }[]) =>
  messages.map((m) => (typeof m.content === 'string' ? m.content : (m.content as { type: string; text?: string }[]).map((p) => p.text ?? '').join('\n'))).join('\n');

describe('model capabilities', () => {
  it('knows which models see images, takes more from CONFAB_VISION_MODELS, and lists them on GET /api/models', async () => {
    const known = { visionModels: [] };
    for (const id of ['openai:gpt-4o-mini', 'openai:gpt-4.1', 'openai:gpt-5', 'openai:o3', 'openai:o4-mini', 'anthropic:claude-sonnet-4-5', 'anthropic:claude-3-5-haiku-latest', 'google:gemini-2.5-flash']) {
      expect(modelCapabilities(known, id), id).toEqual({ vision: true });
    }
    for (const id of ['openai:gpt-3.5-turbo', 'openai:o3-mini', 'openai:o1-mini', 'openai:llama3.1', 'anthropic:claude-test', 'nonsense']) {
      expect(modelCapabilities(known, id), id).toEqual({ vision: false });
    }
    const configured = { visionModels: ['openai:llava*', 'openai:qwen2.5vl:7b'] };
    expect(modelCapabilities(configured, 'openai:llava:13b')).toEqual({ vision: true });
    expect(modelCapabilities(configured, 'openai:qwen2.5vl:7b')).toEqual({ vision: true });
    expect(modelCapabilities(configured, 'openai:qwen2.5vl:72b')).toEqual({ vision: false });

    const listed = await alice.api.get('/api/models');
    expect(listed.status).toBe(200);
    expect(listed.body.models).toEqual([
      expect.objectContaining({ id: VISION, capabilities: { vision: true } }),
      expect.objectContaining({ id: TEXT_ONLY, capabilities: { vision: false } }),
    ]);
  });
});

describe('attachments in the prompt', () => {
  it('gives a vision model the image as an OpenAI image_url part with the stored bytes', async () => {
    const conv = await conversation(alice, VISION);
    const image = await upload(alice, conv, png, 'red.png', 'image/png');
    const answer = await ask(alice, socket, conv, 'What colour is this?', [image], 'image');
    expect(answer.content).toBe('What colour is this?');

    const [user] = lastPrompt();
    expect(user!.role).toBe('user');
    expect(user!.content).toEqual([
      { type: 'text', text: 'What colour is this?\n\n[image red.png]' },
      { type: 'image_url', image_url: { url: expect.stringMatching(/^data:image\/png;base64,/) } },
    ]);
    // The very bytes a member downloads (the stored original, its metadata stripped).
    const stored = Buffer.from(await (await fetch(`${server.url}/api/attachments/${image}`, { headers: { authorization: `Bearer ${alice.accessToken}` } })).arrayBuffer());
    const sent = Buffer.from((user!.content[1].image_url.url as string).split(',')[1]!, 'base64');
    expect(sent.equals(stored)).toBe(true);
    expect((await sharp(sent).metadata()).width).toBe(24);
  });

  it("gives the model a PDF's text, and the answer streams in", async () => {
    const conv = await conversation(alice, VISION);
    const pdf = await upload(alice, conv, makePdf(['Quarterly revenue rose by twelve percent', 'Costs stayed flat']), 'report.pdf', 'application/pdf');
    const answer = await ask(alice, socket, conv, 'What does the report say?', [pdf]);

    const [user] = lastPrompt();
    // No image among the parts: one plain text.
    expect(typeof user!.content).toBe('string');
    expect(user!.content).toMatch(/^What does the report say\?\n\n\[document report\.pdf\]\n.*Quarterly revenue rose by twelve percent.*Costs stayed flat.*\n\[end of document report\.pdf\]$/s);
    // The fake provider echoes what it got (bracketed notes left out): the answer holds the PDF's text.
    expect(answer.content).toContain('Quarterly revenue rose by twelve percent');
  });

  it('cuts a long document to the context budget and says so, and keeps it for follow-up questions', async () => {
    const conv = await conversation(alice, VISION);
    const long = `BEGIN-OF-NOTES ${'a line of meeting notes\n'.repeat(3000)}END-OF-NOTES`;
    const notes = await upload(alice, conv, Buffer.from(long), 'notes.txt', 'text/plain');
    // [tokens=3]: a short answer (the fake provider would echo the whole document).
    await ask(alice, socket, conv, 'Summarise these notes [tokens=3]', [notes]);

    let text = promptText(lastPrompt());
    expect(promptChars(lastPrompt())).toBeLessThanOrEqual(CONTEXT_CHARS);
    expect(text).toContain('BEGIN-OF-NOTES');
    expect(text).not.toContain('END-OF-NOTES');
    const cut = /\[document cut: first (\d+) of (\d+) characters\]$/.exec(text);
    expect(cut).not.toBeNull();
    expect(Number(cut![2])).toBe(long.length);
    expect(Number(cut![1])).toBeGreaterThan(CONTEXT_CHARS - 200);

    // A follow-up: the new question and the answer come first, the document gets what is left.
    await ask(alice, socket, conv, 'And who was there? [tokens=3]');
    const messages = lastPrompt();
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    text = promptText(messages);
    expect(text).toContain('BEGIN-OF-NOTES');
    expect(text).toContain('And who was there?');
    expect(promptChars(messages)).toBeLessThanOrEqual(CONTEXT_CHARS);
    expect(/\[document cut: first (\d+) of/.exec(text)![1]).not.toBe(cut![1]);
  });

  it('tells a model without vision that an image is attached instead of sending it', async () => {
    const conv = await conversation(alice, TEXT_ONLY);
    const image = await upload(alice, conv, png, 'photo.png', 'image/png');
    const bytesBefore = fake.requests.length;
    await ask(alice, socket, conv, 'What is in this photo?', [image], 'image');
    const [user] = lastPrompt();
    expect(user!.content).toBe('What is in this photo?\n\n[image photo.png: this model cannot see images]');
    expect(JSON.stringify(fake.requests.slice(bytesBefore))).not.toContain('image_url');
  });

  it('bounds the images: a large one goes as its preview, and at most four go at once', async () => {
    const conv = await conversation(alice, VISION);
    // Noise does not compress: a PNG over the 4 MB read bound.
    const noise = await sharp(Buffer.from(Array.from({ length: 1300 * 1300 * 3 }, () => Math.floor(Math.random() * 256))), { raw: { width: 1300, height: 1300, channels: 3 } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    expect(noise.byteLength).toBeGreaterThan(MAX_IMAGE_BYTES);
    const ids = [await upload(alice, conv, noise, 'big.png', 'image/png')];
    for (let i = 1; i <= 4; i++) ids.push(await upload(alice, conv, png, `small${i}.png`, 'image/png'));
    await ask(alice, socket, conv, 'Look at these', ids, 'image');

    const [user] = lastPrompt();
    const images = (user!.content as { type: string; image_url?: { url: string } }[]).filter((p) => p.type === 'image_url').map((p) => p.image_url!.url);
    expect(images.map((u) => u.slice(0, u.indexOf(';')))).toEqual(['data:image/webp', 'data:image/png', 'data:image/png', 'data:image/png']);
    const preview = await sharp(Buffer.from(images[0]!.split(',')[1]!, 'base64')).metadata();
    expect(Math.max(preview.width!, preview.height!)).toBeLessThanOrEqual(512);
    expect(promptText([user!])).toContain('[image small4.png: left out, at most 4 images go to the model at once]');
  });

  it('sends the same attachments again on regenerate', async () => {
    const conv = await conversation(alice, VISION);
    const image = await upload(alice, conv, png, 'chart.png', 'image/png');
    const pdf = await upload(alice, conv, makePdf('Plan for the spring launch'), 'plan.pdf', 'application/pdf');
    const first = await ask(alice, socket, conv, 'Compare the chart with the plan', [image, pdf]);
    const asked = lastPrompt();
    expect(promptText(asked)).toContain('Plan for the spring launch');
    expect(JSON.stringify(asked)).toContain('data:image/png;base64,');

    const again = done(socket, (e) => e.messageId === first.messageId);
    await ok(socket, 'ai:regenerate', { messageId: first.messageId });
    expect((await again).status).toBe('complete');
    expect(lastPrompt()).toEqual(asked);
  });

  it("never puts another conversation's attachment, or an unsent upload, into the prompt", async () => {
    // Bob's own chat with a secret document.
    const bobs = await conversation(bob, VISION);
    const secret = await upload(bob, bobs, makePdf('BOB-SECRET-PLANS for the merger'), 'secret.pdf', 'application/pdf');
    await ask(bob, bobSocket, bobs, 'Keep this safe', [secret]);
    expect(promptText(lastPrompt())).toContain('BOB-SECRET-PLANS');

    const conv = await conversation(alice, VISION);
    // Naming Bob's attachment in a message is refused as if it did not exist.
    const refused = await alice.api.post('/api/messages', { conversationId: conv, content: 'read this', clientId: `c-${Math.random()}`, kind: 'file', attachmentIds: [secret] });
    expect(refused.status).toBe(404);
    expect(refused.body.error.code).toBe('NOT_FOUND');
    // So is Bob naming it again in another conversation of his own.
    const other = await conversation(bob, VISION);
    expect((await bob.api.post('/api/messages', { conversationId: other, content: 'again', clientId: `c-${Math.random()}`, kind: 'file', attachmentIds: [secret] })).status).toBe(404);

    // An upload never sent is not part of any message: not in the prompt either.
    await upload(alice, conv, makePdf('DRAFT-NEVER-SENT'), 'draft.pdf', 'application/pdf');
    const first = await ask(alice, socket, conv, 'Hello there');
    expect(promptText(lastPrompt())).not.toContain('DRAFT-NEVER-SENT');

    // Attachments are found through their own message in this conversation, never through the ids a
    // message lists: a message made (by a bug, or a copy) to list Bob's file, or Bob's file row
    // made to point at Alice's message, still gives the model nothing of it.
    const [question] = await server.ctx.db.query<{ id: string }>(`SELECT id FROM messages WHERE conversation_id = $1 AND author_id = $2`, [conv, alice.id]);
    const [meta] = await server.ctx.db.query<{ attachments: unknown }>(`SELECT attachments FROM messages WHERE conversation_id = $1 AND author_id = $2`, [bobs, bob.id]);
    await server.ctx.db.query(`UPDATE messages SET attachments = $2::jsonb WHERE id = $1`, [question!.id, JSON.stringify(meta!.attachments)]);
    const [secretRow] = await server.ctx.db.query<{ message_id: string }>(`SELECT message_id FROM attachments WHERE id = $1`, [secret]);
    await server.ctx.db.query(`UPDATE attachments SET message_id = $2 WHERE id = $1`, [secret, question!.id]);
    try {
      const again = done(socket, (e) => e.messageId === first.messageId);
      await ok(socket, 'ai:regenerate', { messageId: first.messageId });
      expect((await again).status).toBe('complete');
      const text = JSON.stringify(lastPrompt());
      expect(text).toContain('Hello there');
      expect(text).not.toContain('BOB-SECRET-PLANS');
      expect(text).not.toContain('secret.pdf');
    } finally {
      await server.ctx.db.query(`UPDATE attachments SET message_id = $2 WHERE id = $1`, [secret, secretRow!.message_id]);
    }
  });
});
