// An instance with a bit of everything in it, and a reader that takes every message back out
// through the REST API, for the tests that move an instance (backup/restore, export/import) to
// compare the copy with the original as a client would see it.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Message } from '@confab/protocol';
import sharp from 'sharp';
import { expect } from 'vitest';
import type { Keyring } from '../crypto/keyring.ts';
import { newId } from '../ids.ts';
import { searchTerms } from '../search/terms.ts';
import type { Database } from '../storage/db.ts';
import { storeSends } from '../storage/messages.ts';
import { Api, registerUser, type TestUser } from './harness.ts';

export const PASSWORD = 'correct horse battery';

export interface Populated {
  users: TestUser[];
  /** Conversations every one of which the first user is in. */
  conversationIds: string[];
  /** A word that only one message holds, and that message's id (search must find it after a move). */
  searchWord: string;
  searchHit: string;
}

let clientIds = 0;
export async function send(user: TestUser, conversationId: string, content: string, extra: Record<string, unknown> = {}): Promise<Message> {
  const res = await user.api.post<Message>('/api/messages', { conversationId, content, clientId: `kit-${++clientIds}-${Date.now()}`, ...extra });
  if (res.status !== 201) throw new Error(`send failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function upload(server: { url: string }, user: TestUser, conversationId: string, name: string, type: string, bytes: Buffer): Promise<string> {
  const ticket = await user.api.post('/api/attachments', { conversationId, name, type, size: bytes.length });
  if (ticket.status !== 201) throw new Error(`attachment ticket: ${ticket.status} ${JSON.stringify(ticket.body)}`);
  const put = await fetch(server.url + ticket.body.uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': type }, body: new Uint8Array(bytes) });
  if (put.status !== 200) throw new Error(`upload: ${put.status} ${await put.text()}`);
  return ticket.body.attachmentId as string;
}

/** Three people, a group and a direct conversation with text, replies, edits, a deletion, reactions, a pin, a thread, receipts and attachments (an image with its preview, a text file). */
export async function populate(server: { url: string }): Promise<Populated> {
  const alice = await registerUser(server, 'alice');
  const bob = await registerUser(server, 'bob');
  const carol = await registerUser(server, 'carol');
  const group = (await alice.api.post('/api/conversations/group', { title: 'Moving day', participantIds: [bob.id, carol.id] })).body.id as string;
  const direct = (await alice.api.post('/api/conversations/direct', { userId: bob.id })).body.id as string;

  const first = await send(alice, group, 'Hello everyone, the quokka arrives tomorrow 🦘');
  await send(bob, group, 'Reply to that', { replyToId: first.id });
  const edited = await send(carol, group, 'a typo here');
  expect((await carol.api.patch(`/api/messages/${edited.id}`, { content: 'no typo here (edited)' })).status).toBe(200);
  const gone = await send(bob, group, 'this one will be deleted');
  expect((await bob.api.delete(`/api/messages/${gone.id}`)).status).toBe(200);
  expect((await bob.api.post(`/api/messages/${first.id}/reactions`, { emoji: '👍' })).status).toBeLessThan(300);
  expect((await carol.api.post(`/api/messages/${first.id}/reactions`, { emoji: '🎉' })).status).toBeLessThan(300);
  expect((await alice.api.post(`/api/messages/${first.id}/pin`)).status).toBe(200);
  await send(bob, group, 'a reply in the thread', { threadRootId: first.id });

  const png = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 200, g: 30, b: 90 } } }).png().toBuffer();
  const image = await upload(server, alice, group, 'red.png', 'image/png', png);
  await send(alice, group, 'a picture', { kind: 'image', attachmentIds: [image] });
  const text = await upload(server, bob, direct, 'notes.txt', 'text/plain', Buffer.from('line one\nline two\n'.repeat(500)));
  await send(bob, direct, 'my notes', { kind: 'file', attachmentIds: [text] });
  const dm = await send(alice, direct, 'Thanks, read them');
  expect((await bob.api.post(`/api/messages/${dm.id}/status`, { status: 'read' })).status).toBeLessThan(300);
  return { users: [alice, bob, carol], conversationIds: [group, direct], searchWord: 'quokka', searchHit: first.id };
}

export async function login(server: { url: string }, email: string): Promise<Api> {
  const res = await new Api(server.url).post('/api/auth/login', { email, password: PASSWORD });
  if (res.status !== 200) throw new Error(`login of ${email}: ${res.status} ${JSON.stringify(res.body)}`);
  return new Api(server.url, res.body.accessToken);
}

/** Every message of a conversation (the main line, then each thread), in seq order, as the API gives them. */
export async function readConversation(api: Api, conversationId: string): Promise<Message[]> {
  const all = new Map<string, Message>();
  const page = async (query: string) => {
    let after = 0;
    for (;;) {
      const res = await api.get<{ messages: Message[]; hasMore: boolean }>(`/api/messages/${conversationId}?limit=200&after=${after}${query}`);
      if (res.status !== 200) throw new Error(`messages of ${conversationId}: ${res.status} ${JSON.stringify(res.body)}`);
      for (const m of res.body.messages) all.set(m.id, m);
      if (!res.body.hasMore || res.body.messages.length === 0) return;
      after = res.body.messages[res.body.messages.length - 1]!.seq;
    }
  };
  await page('');
  for (const root of [...all.values()].filter((m) => (m.thread?.replyCount ?? 0) > 0)) await page(`&threadRootId=${root.id}`);
  return [...all.values()].sort((a, b) => a.seq - b.seq);
}

/** The SHA-256 of an attachment's bytes as the API serves them (original, or preview). */
export async function attachmentHash(server: { url: string }, api: Api, id: string, variant: 'original' | 'preview'): Promise<string> {
  const res = await fetch(`${server.url}/api/attachments/${id}${variant === 'preview' ? '/preview' : ''}`, { headers: { authorization: `Bearer ${api.token}` } });
  if (res.status !== 200) throw new Error(`attachment ${id} ${variant}: ${res.status}`);
  return createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex');
}

/** Each attachment of these messages: id → hashes of its bytes. */
export async function attachmentHashes(server: { url: string }, api: Api, messages: Message[]): Promise<Record<string, { original: string; preview: string | null }>> {
  const out: Record<string, { original: string; preview: string | null }> = {};
  for (const m of messages) {
    for (const a of m.attachments) {
      const preview = a.hasPreview ? await attachmentHash(server, api, a.id, 'preview') : null;
      out[a.id] = { original: await attachmentHash(server, api, a.id, 'original'), preview };
    }
  }
  return out;
}

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));

/** Runs the `confab` command as an operator would, in a process of its own, with the given environment. */
export function confab(args: string[], env: Record<string, string>, timeoutMs = 600_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CLI, ...args],
      { env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', CONFAB_SECRET: '', LOG_LEVEL: '', ...env }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The peak memory the command reported on its last line ("peak memory 123.4 MB"), in MB. */
export function reportedPeakMb(stdout: string): number {
  const match = /peak memory ([\d.]+) MB/.exec(stdout);
  if (!match) throw new Error(`no peak memory in: ${stdout}`);
  return Number(match[1]);
}

/** The text of seeded message `i`: varied lengths, words that search can find, some non-ASCII. */
export function seededText(i: number, size: number): string {
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'échelle', 'fjord', 'glück', 'hotel', '数据', 'kilo', 'lima', 'mike'];
  const head = `seeded ${i} word${i} ${words[i % words.length]} `;
  const filler = `${words[(i * 7) % words.length]} lorem ipsum dolor sit amet ${i % 97} `;
  return (head + filler.repeat(Math.ceil(size / filler.length))).slice(0, Math.max(head.length, size - (i % 13) * 17));
}

/**
 * Stores `count` messages straight through the storage layer, as the server's send path stores
 * them (encrypted with the server's key, search terms made with its key, seq numbered by the batch
 * function), round-robin over the conversations and their members, in batches. Returns their ids
 * in order (message i is ids[i]).
 */
export async function seedMessages(
  ctx: { db: Database; keys: Keyring },
  conversations: Array<{ id: string; memberIds: string[] }>,
  count: number,
  size: number,
  onBatch?: (done: number) => void,
): Promise<string[]> {
  const ids: string[] = [];
  const BATCH = 500;
  for (let start = 0; start < count; start += BATCH) {
    const sends = [];
    for (let i = start; i < Math.min(count, start + BATCH); i++) {
      const conversation = conversations[i % conversations.length]!;
      const text = seededText(i, size);
      const id = newId();
      ids.push(id);
      sends.push({
        id,
        conversationId: conversation.id,
        authorId: conversation.memberIds[i % conversation.memberIds.length]!,
        clientId: `seed-${i}`,
        kind: 'text',
        contentEnc: ctx.keys.encrypt(text),
        terms: `{${searchTerms(ctx.keys.searchKey, conversation.id, text).join(',')}}`,
        threadRootId: null,
        alsoToChannel: false,
      });
    }
    const stored = await storeSends(ctx.db, sends);
    if (stored.length !== sends.length) throw new Error(`stored ${stored.length} of ${sends.length}`);
    onBatch?.(Math.min(count, start + BATCH));
  }
  return ids;
}

export async function uploadBytes(server: { url: string }, user: TestUser, conversationId: string, name: string, type: string, bytes: Buffer): Promise<string> {
  return upload(server, user, conversationId, name, type, bytes);
}
