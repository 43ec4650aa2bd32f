/**
 * A rolling upgrade's hardest moment (docs/operations.md, "Upgrade"): the first node of the new
 * release starts and migrates the database while nodes of the release before it still serve. Those
 * must keep working on the migrated schema, which is why a migration may only expand it (see
 * migrations.rule.test.ts for the rule checked on the SQL).
 *
 * The older release is real code: the sources of the commit before the newest migration was added,
 * taken from git (`git archive`) and run as a server process with this checkout's node_modules. It
 * serves sends (REST) and a live socket while a node of this checkout starts on the same database
 * and applies what the older one lacks; afterwards both serve the same conversation, each reading
 * what the other wrote, and the older release starts again on the migrated database (a roll-back).
 * Needs the git history (not a shallow clone). PostgreSQL pass only.
 */
import { execFileSync, execSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Client } from '../realtime/test/kit.ts';
import { Api, createPostgresDatabase, newRedisPrefix, registerUser, testRedisUrl, type TestUser } from '../test/harness.ts';
import { startServerProcess, type ServerProcess } from '../test/processes.ts';
import { freePort } from '../test/proxies.ts';
import { MIGRATIONS } from './migrations.ts';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const MIGRATIONS_FILE = 'packages/server/src/storage/migrations.ts';

/**
 * The release before this checkout's newest migration: HEAD while that migration is not committed
 * yet (a migration being written is tested against what runs now), else the commit before the one
 * that added it.
 */
function previousRelease(): { commit: string; subject: string } {
  const newest = MIGRATIONS.at(-1)!;
  const git = (...args: string[]) => execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' }).trim();
  // A shallow clone (some CI checkouts) lacks the older commits: fetch them once, where the origin allows.
  if (git('rev-parse', '--is-shallow-repository') === 'true') {
    try {
      git('fetch', '--quiet', '--unshallow');
    } catch {
      // The error below says what is missing.
    }
  }
  let commit: string;
  if (!git('show', `HEAD:${MIGRATIONS_FILE}`).includes(newest.name)) commit = git('rev-parse', 'HEAD');
  else {
    const added = git('log', '--reverse', '--format=%H', `-S${newest.name}`, '--', MIGRATIONS_FILE).split('\n')[0];
    if (!added) throw new Error(`git log finds no commit adding migration ${newest.version} (a shallow clone? fetch the history)`);
    commit = git('rev-parse', `${added}^`);
  }
  return { commit, subject: git('log', '-1', '--format=%s', commit) };
}

/**
 * The server and protocol sources of `commit` in a temporary directory, with a node_modules of links
 * into this checkout's (@confab/server and @confab/protocol pointing at the old sources instead).
 */
function checkOut(commit: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'confab-previous-'));
  execSync(`git -C '${ROOT}' archive --format=tar ${commit} package.json tsconfig.base.json packages/protocol packages/server | tar -x -C '${dir}'`);
  const modules = path.join(dir, 'node_modules');
  mkdirSync(path.join(modules, '@confab'), { recursive: true });
  for (const name of readdirSync(path.join(ROOT, 'node_modules'))) {
    if (name !== '@confab' && name !== '.bin') symlinkSync(path.join(ROOT, 'node_modules', name), path.join(modules, name));
  }
  // The web app and the SDK are served or unused by the server: this checkout's will do.
  for (const pkg of ['web', 'client']) symlinkSync(path.join(ROOT, 'packages', pkg), path.join(modules, '@confab', pkg));
  for (const pkg of ['protocol', 'server']) {
    symlinkSync(path.join(dir, 'packages', pkg), path.join(modules, '@confab', pkg));
    const own = path.join(ROOT, 'packages', pkg, 'node_modules');
    if (existsSync(own) && !existsSync(path.join(dir, 'packages', pkg, 'node_modules'))) symlinkSync(own, path.join(dir, 'packages', pkg, 'node_modules'));
  }
  return dir;
}

async function ready(port: number, timeoutMs = 45_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() - start > timeoutMs) throw new Error(`node on ${port} never became ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let previous: { commit: string; subject: string };
let sources: string;
let database: { url: string; drop: () => Promise<void> };
let env: Record<string, string>;
const dataDirs: string[] = [];
const processes: ServerProcess[] = [];
const sockets: Client[] = [];

async function versions(): Promise<number[]> {
  const db = new pg.Client({ connectionString: database.url });
  await db.connect();
  try {
    return (await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
  } finally {
    await db.end();
  }
}

async function node(opts: { main?: string } = {}): Promise<{ url: string; process: ServerProcess }> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'confab-upgrade-node-'));
  dataDirs.push(dataDir);
  const proc = startServerProcess({ ...env, PORT: String(port), DATA_DIR: dataDir }, opts);
  processes.push(proc);
  await proc.url;
  await ready(port);
  return { url: `http://127.0.0.1:${port}`, process: proc };
}

beforeAll(async () => {
  const adminUrl = process.env.CONFAB_TEST_DATABASE_URL;
  if (!adminUrl) throw new Error('the upgrade test needs CONFAB_TEST_DATABASE_URL (PostgreSQL)');
  previous = previousRelease();
  sources = checkOut(previous.commit);
  database = await createPostgresDatabase(adminUrl);
  env = {
    DATABASE_URL: database.url,
    REDIS_URL: testRedisUrl,
    CONFAB_REDIS_PREFIX: newRedisPrefix(),
    CONFAB_SECRET: randomBytes(32).toString('base64url'),
    CONFAB_RATE_LIMITS: 'off',
    LOG_LEVEL: 'warn',
  };
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  await Promise.allSettled(processes.map((p) => p.stop()));
  for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
  await database?.drop();
  if (sources) rmSync(sources, { recursive: true, force: true });
});

describe('migrating while the release before still serves', () => {
  it('the older node keeps serving sends and reads while a newer node migrates the database under it, and after', async () => {
    const old = await node({ main: path.join(sources, 'packages/server/src/main.ts') });
    const before = await versions();
    const missing = MIGRATIONS.map((m) => m.version).filter((v) => !before.includes(v));
    console.log(`older release: ${previous.commit.slice(0, 10)} "${previous.subject.slice(0, 80)}"; migrations it lacks: ${missing.join(', ')}`);
    // The test is only worth something if the newer node has something to apply.
    expect(missing).toContain(MIGRATIONS.at(-1)!.version);

    const alice: TestUser = await registerUser(old, 'alice');
    const bob: TestUser = await registerUser(old, 'bob');
    const group = (await alice.api.post('/api/conversations/group', { title: 'upgrade', participantIds: [bob.id] })).body.id as string;
    // bob watches the conversation live on the older node throughout.
    const live = await connect(old.url, bob.accessToken);
    sockets.push(live);
    const heard = new Map<string, number>();
    live.on('chat:message_received', (m: { clientId: string | null }) => m.clientId && heard.set(m.clientId, (heard.get(m.clientId) ?? 0) + 1));

    // alice sends through the older node every 25 ms while the newer one starts and migrates.
    const sent: string[] = [];
    const refused: string[] = [];
    let sending = true;
    const sender = (async () => {
      while (sending) {
        const clientId = randomUUID();
        sent.push(clientId);
        const res = await alice.api.post('/api/messages', { conversationId: group, content: `from the older node ${sent.length}`, clientId });
        if (res.status !== 201) refused.push(`${res.status} ${JSON.stringify(res.body)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    const newer = await node();
    expect(await versions()).toEqual(MIGRATIONS.map((m) => m.version).sort((a, b) => a - b));
    await new Promise((r) => setTimeout(r, 1000));
    sending = false;
    await sender;
    expect(refused).toEqual([]);

    // After the migration: sends on both nodes, and an edit on the older one (it writes message_versions).
    const onNewer = new Api(newer.url, bob.accessToken);
    for (let i = 0; i < 5; i++) {
      for (const [api, label] of [
        [alice.api, 'older'],
        [onNewer, 'newer'],
      ] as const) {
        const clientId = randomUUID();
        sent.push(clientId);
        expect((await api.post('/api/messages', { conversationId: group, content: `after, on the ${label} node ${i}`, clientId })).status).toBe(201);
      }
    }
    // alice's first message, sent before the migration (the first of the conversation is the system one).
    const first = (await alice.api.get(`/api/conversations/${group}/messages?after=0&limit=5`)).body.messages.find((m: { clientId: string }) => m.clientId === sent[0]);
    expect((await alice.api.patch(`/api/messages/${first.id}`, { content: 'edited on the older node' })).status).toBe(200);

    // Each node reads the whole log, the same on both: every send once, in seq order, the edit included.
    const read = async (api: Api) => {
      const all: Array<{ id: string; seq: number; clientId: string | null; content: string }> = [];
      for (let after = 0; ; ) {
        const page = (await api.get(`/api/conversations/${group}/messages?after=${after}&limit=100`)).body;
        all.push(...page.messages);
        if (!page.hasMore || page.messages.length === 0) break;
        after = page.messages.at(-1).seq;
      }
      return all;
    };
    const [fromOlder, fromNewer] = [await read(new Api(old.url, bob.accessToken)), await read(onNewer)];
    expect(fromOlder.map((m) => [m.id, m.seq, m.content])).toEqual(fromNewer.map((m) => [m.id, m.seq, m.content]));
    const clientIds = fromOlder.map((m) => m.clientId).filter((c): c is string => c !== null);
    expect(clientIds.filter((c) => sent.includes(c)).sort()).toEqual([...sent].sort());
    expect(fromOlder.find((m) => m.id === first.id)?.content).toBe('edited on the older node');
    // The newer node lists the edit the older one made (in message_versions: the table migration 18 changed).
    const edits = await onNewer.get(`/api/messages/${first.id}/versions`);
    expect(edits.status, JSON.stringify(edits.body)).toBe(200);
    expect(edits.body.versions.map((v: { content: string }) => v.content)).toEqual([expect.stringMatching(/^from the older node 1$/), 'edited on the older node']);
    // The older node's live socket heard every send once, from either node.
    const deadline = Date.now() + 5000;
    while (sent.some((c) => !heard.has(c)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(sent.filter((c) => heard.get(c) !== 1)).toEqual([]);

    // Rolling back: the older release starts again on the migrated database (it applies nothing,
    // the newer versions it does not know stay recorded) and serves.
    expect(await old.process.stop()).toBe(0);
    const again = await node({ main: path.join(sources, 'packages/server/src/main.ts') });
    expect(await versions()).toEqual(MIGRATIONS.map((m) => m.version).sort((a, b) => a - b));
    const clientId = randomUUID();
    const back = await new Api(again.url, alice.accessToken).post('/api/messages', { conversationId: group, content: 'after rolling back', clientId });
    expect(back.status).toBe(201);
    expect((await read(new Api(again.url, bob.accessToken))).map((m) => m.clientId)).toEqual([...fromOlder.map((m) => m.clientId), clientId]);
  }, 120_000);
});
