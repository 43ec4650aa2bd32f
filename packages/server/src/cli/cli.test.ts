// The `confab` command as an operator runs it: a real process on the server's storage (the embedded
// database in DATA_DIR, or PostgreSQL in the PostgreSQL pass), then a real server on that same
// storage that honours what it did.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, createPostgresDatabase, startTestServer } from '../test/harness.ts';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
const dataDir = mkdtempSync(path.join(tmpdir(), 'confab-cli-'));
const secret = randomBytes(32).toString('base64url');
let databaseUrl = '';
let dropDatabase: (() => Promise<void>) | undefined;

beforeAll(async () => {
  const adminUrl = process.env.CONFAB_TEST_DATABASE_URL;
  if (adminUrl) ({ url: databaseUrl, drop: dropDatabase } = await createPostgresDatabase(adminUrl));
});
afterAll(async () => {
  await dropDatabase?.();
  rmSync(dataDir, { recursive: true, force: true });
});

function confab(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', CLI, ...args],
      { env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: databaseUrl, REDIS_URL: '', CONFAB_SECRET: secret, CONFAB_PUBLIC_URL: 'https://chat.example.test', LOG_LEVEL: '' } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(stdin ?? '');
  });
}

/** A server on the command's storage, with registration by invite as on a fresh install. */
const serverOnSameStorage = () => startTestServer({ dataDir, databaseUrl: databaseUrl || undefined, secret, registration: 'invite' });

describe('the confab command', () => {
  it('creates the owner, lists, invites, resets a password and changes roles; the server honours all of it', async () => {
    const owner = await confab(['user', 'create', '--email', 'Owner@Example.test', '--handle', 'owner', '--name', 'The Owner', '--role', 'owner', '--password-stdin'], 'owner password 1\n');
    expect(owner.stderr).toBe('');
    expect(owner.code).toBe(0);
    expect(owner.stdout).toMatch(/^created owner @owner \(/);

    // Without a password: a link to set one.
    const member = await confab(['user', 'create', '--email', 'member@example.test', '--handle', 'member']);
    expect(member.code).toBe(0);
    const setLink = /https:\/\/chat\.example\.test\/reset-password\/([\w-]+)/.exec(member.stdout);
    expect(setLink).not.toBeNull();

    const invite = await confab(['invite', 'create', '--max-uses', '1']);
    expect(invite.code).toBe(0);
    const inviteToken = /https:\/\/chat\.example\.test\/invite\/([\w-]+)/.exec(invite.stdout)?.[1];
    expect(inviteToken).toBeTruthy();

    expect((await confab(['user', 'set-role', '@member', 'admin'])).stdout.trim()).toBe('@member is now admin');
    // The last owner stays one, and a bad role is refused before anything is opened.
    const demote = await confab(['user', 'set-role', 'owner@example.test', 'user']);
    expect(demote.code).toBe(1);
    expect(demote.stderr).toContain('the last active owner');
    expect((await confab(['user', 'set-role', 'member', 'boss'])).code).not.toBe(0);
    expect((await confab(['user', 'reset-password', 'nobody-here'])).stderr).toContain('no account is called "nobody-here"');

    const list = await confab(['user', 'list']);
    expect(list.stdout).toMatch(/@owner\s+The Owner\s+owner@example\.test\s+owner\s+active/);
    expect(list.stdout).toMatch(/@member\s+member\s+member@example\.test\s+admin\s+active/);

    const server = await serverOnSameStorage();
    try {
      const anon = new Api(server.url);
      const signedIn = await anon.post('/api/auth/login', { email: 'owner@example.test', password: 'owner password 1' });
      expect(signedIn.status).toBe(200);
      expect(signedIn.body.user.role).toBe('owner');
      // The member cannot sign in until they set a password with the printed link.
      expect((await anon.post('/api/auth/login', { email: 'member@example.test', password: 'member password 1' })).status).toBe(401);
      expect((await anon.post('/api/auth/password-reset', { token: setLink![1], newPassword: 'member password 1' })).status).toBe(204);
      expect((await anon.post('/api/auth/login', { email: 'member@example.test', password: 'member password 1' })).status).toBe(200);
      // The invite registers one person (registration is by invite), once.
      const newcomer = { email: 'new@example.test', password: 'newcomer password', handle: 'newcomer', displayName: 'New', inviteToken };
      expect((await anon.post('/api/auth/register', newcomer)).status).toBe(201);
      expect((await anon.post('/api/auth/register', { ...newcomer, email: 'again@example.test', handle: 'again' })).status).toBe(403);
      // Every change is in the audit log, done by the command line (no actor).
      const audit = await anon.as(signedIn.body.accessToken).get('/api/admin/audit?limit=50');
      const byCommandLine = audit.body.entries.filter((e: { actorId: string | null }) => e.actorId === null).map((e: { action: string }) => e.action);
      expect(byCommandLine).toEqual(expect.arrayContaining(['user.create', 'invite.create', 'user.role', 'user.password_reset_link']));
      if (!databaseUrl) {
        // The embedded database is the server's while it runs: the command says so and changes nothing.
        const refused = await confab(['user', 'list']);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(/is in use by process \d+: stop it first/);
      }
    } finally {
      await server.close();
    }
    // Each run of the command is a process that opens the database: seconds apiece on a busy machine.
  }, 240_000);
});
