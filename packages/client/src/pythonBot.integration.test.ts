/**
 * examples/python-bot/bot.py, a bot written with Python's Socket.IO client instead of this SDK,
 * against a real server: it connects with a bot token (or signs in with a password), and answers
 * "ping" with "pong".
 * Needs python3 with python-socketio, websocket-client and requests (scripts/test-services.sh
 * installs Debian's packages); CONFAB_PYTHON names the interpreter (default /usr/bin/python3).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, type TestServer } from '../../server/src/test/harness.ts';
import { until } from './test/live.ts';

const BOT = fileURLToPath(new URL('../../../examples/python-bot/bot.py', import.meta.url));
const PYTHON = process.env.CONFAB_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

let server: TestServer;
let child: ChildProcess | undefined;
let output = '';

/** Starts bot.py with `env` and waits until it says it is connected as `handle`. */
async function startBot(env: Record<string, string>, handle: string): Promise<void> {
  output = '';
  child = spawn(PYTHON, [BOT], { env: { ...process.env, CONFAB_URL: server.url, CONFAB_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await until(`the bot to connect (its output: ${output})`, () => output.includes(`connected as @${handle}`) || child!.exitCode !== null, 30_000);
  expect(output).toContain(`connected as @${handle}`);
}

async function stopBot(): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child!.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child!.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await stopBot();
  await server?.close();
});

describe('the Python bot example', () => {
  it('signs in with its password, connects with python-socketio and answers ping with pong', async () => {
    const ann = await registerUser(server, 'ann');
    const bot = await registerUser(server, 'pybot');
    const dm = (await ann.api.post('/api/conversations/direct', { userId: bot.id })).body as { id: string };

    await startBot({ CONFAB_EMAIL: `${bot.user.handle}@example.test`, CONFAB_PASSWORD: 'correct horse battery' }, bot.user.handle);

    const messages = async () =>
      ((await ann.api.get(`/api/conversations/${dm.id}/messages`)).body as { messages: Message[] }).messages.map((m) => [m.authorId === bot.id ? 'bot' : 'ann', m.content]);
    expect((await ann.api.post('/api/messages', { conversationId: dm.id, content: 'hello', clientId: 'c1' })).status).toBe(201);
    expect((await ann.api.post('/api/messages', { conversationId: dm.id, content: 'ping', clientId: 'c2' })).status).toBe(201);
    let seen: string[][] = [];
    const deadline = Date.now() + 15_000;
    while (!seen.some(([who]) => who === 'bot') && Date.now() < deadline) {
      seen = await messages();
      await new Promise((r) => setTimeout(r, 100));
    }
    // Only "ping" is answered, once, after it.
    expect(seen).toEqual([
      ['ann', 'hello'],
      ['ann', 'ping'],
      ['bot', 'pong'],
    ]);
    await stopBot();
  }, 60_000);

  it('runs on a bot token (POST /api/bots) and answers in a group it was added to', async () => {
    const owner = await registerUser(server, 'botowner');
    const created = await owner.api.post('/api/bots', { handle: 'pingbot', displayName: 'Ping bot' });
    expect(created.status).toBe(201);
    const { bot, token } = created.body as { bot: { id: string; handle: string; isBot: boolean }; token: string };
    expect(bot.isBot).toBe(true);
    const group = (await owner.api.post('/api/conversations/group', { title: 'Bots welcome', participantIds: [bot.id] })).body as { id: string };

    await startBot({ CONFAB_TOKEN: token }, bot.handle);
    expect((await owner.api.post('/api/messages', { conversationId: group.id, content: 'ping', clientId: 'g1' })).status).toBe(201);
    let seen: string[][] = [];
    const deadline = Date.now() + 15_000;
    while (!seen.some(([who]) => who === 'bot') && Date.now() < deadline) {
      const page = (await owner.api.get(`/api/conversations/${group.id}/messages`)).body as { messages: Message[] };
      seen = page.messages.filter((m) => m.kind !== 'system').map((m) => [m.authorId === bot.id ? 'bot' : 'owner', m.content]);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen).toEqual([
      ['owner', 'ping'],
      ['bot', 'pong'],
    ]);
    await stopBot();
  }, 60_000);
});
