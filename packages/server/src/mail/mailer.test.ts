import net from 'node:net';
import { Writable } from 'node:stream';
import { simpleParser, type ParsedMail } from 'mailparser';
import { pino } from 'pino';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, registerUser, startTestServer, type TestServer } from '../test/harness.ts';
import { sendInviteEmail } from './mailer.ts';

/** A real SMTP server on a free loopback port that keeps what it receives. */
async function startSmtp(): Promise<{ port: number; inbox: ParsedMail[]; close: () => Promise<void> }> {
  const inbox: ParsedMail[] = [];
  const smtp = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    onData(stream, _session, done) {
      simpleParser(stream)
        .then((mail) => {
          inbox.push(mail);
          done();
        })
        .catch(done);
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = (smtp.server.address() as net.AddressInfo).port;
  return { port, inbox, close: () => new Promise<void>((resolve) => smtp.close(() => resolve())) };
}

async function eventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const addresses = (mail: ParsedMail) => [mail.to ?? []].flat().flatMap((a) => a.value.map((v) => v.address));

describe('e-mail over a real SMTP server', () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let server: TestServer;
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });

  beforeAll(async () => {
    smtp = await startSmtp();
    server = await startTestServer({ smtp: { url: `smtp://127.0.0.1:${smtp.port}`, from: 'Acme Chat <chat@acme.test>' }, instanceName: 'Acme Chat' }, { logger: pino({ level: 'info' }, sink) });
  });
  afterAll(async () => {
    await server?.close();
    await smtp?.close();
  });

  it('a reset request e-mails a link that sets a new password; the token is in no log line', async () => {
    const ada = await registerUser(server, 'ada');
    const res = await new Api(server.url).post('/api/auth/password-reset/request', { email: ada.user.email.toUpperCase() });
    expect(res.status).toBe(204);
    await eventually(() => smtp.inbox.some((m) => addresses(m).includes(ada.user.email)));
    const mail = smtp.inbox.find((m) => addresses(m).includes(ada.user.email))!;
    expect(mail.subject).toBe('Reset your Acme Chat password');
    expect(mail.from?.text).toContain('chat@acme.test');
    const link = new RegExp(`${server.url}/reset-password/([A-Za-z0-9_-]{43})`).exec(mail.text ?? '');
    expect(link).not.toBeNull();
    expect(mail.html).toContain(`href="${link![0]}"`);
    const token = link![1]!;

    expect((await new Api(server.url).post('/api/auth/password-reset', { token, newPassword: 'from the e-mail link' })).status).toBe(204);
    expect((await new Api(server.url).get('/api/auth/me')).status).toBe(401);
    expect((await new Api(ada.api.baseUrl, ada.accessToken).get('/api/auth/me')).status).toBe(401);
    expect((await new Api(server.url).post('/api/auth/login', { email: ada.user.email, password: 'from the e-mail link' })).status).toBe(200);
    expect(lines.some((l) => l.includes('"mail_sent"'))).toBe(true);
    expect(lines.filter((l) => l.includes(token))).toEqual([]);
  });

  it('answers 204 for unknown and deactivated accounts, and sends them nothing', async () => {
    const [gone, asleep] = [await registerUser(server, 'gone'), await registerUser(server, 'asleep')];
    await server.ctx.db.query(`UPDATE users SET status = 'deactivated' WHERE id = $1`, [asleep.id]);
    const before = smtp.inbox.length;
    for (const email of ['nobody@example.test', asleep.user.email]) {
      expect((await new Api(server.url).post('/api/auth/password-reset/request', { email })).status).toBe(204);
    }
    // A known active one after them: once it arrives, the others would have too.
    expect((await new Api(server.url).post('/api/auth/password-reset/request', { email: gone.user.email })).status).toBe(204);
    await eventually(() => smtp.inbox.length > before);
    await new Promise((r) => setTimeout(r, 200));
    expect(smtp.inbox.slice(before).flatMap(addresses)).toEqual([gone.user.email]);
    expect(await server.ctx.db.query('SELECT 1 FROM password_resets WHERE user_id = $1', [asleep.id])).toHaveLength(0);
  });

  it('sends an invitation with the inviter and the instance name', async () => {
    expect(await sendInviteEmail(server.ctx, 'new.person@example.test', `${server.url}/invite/abc`, 'Grace Hopper', 'Acme Chat')).toBe(true);
    await eventually(() => smtp.inbox.some((m) => addresses(m).includes('new.person@example.test')));
    const mail = smtp.inbox.find((m) => addresses(m).includes('new.person@example.test'))!;
    expect(mail.subject).toBe('Grace Hopper invited you to Acme Chat');
    expect(mail.text).toContain(`${server.url}/invite/abc`);
    expect(mail.html).toContain(`href="${server.url}/invite/abc"`);
  });

  it('an invite an admin creates for an address is e-mailed there, with the link', async () => {
    const grace = await registerUser(server, 'Grace');
    await server.ctx.db.query(`UPDATE users SET role = 'admin' WHERE id = $1`, [grace.id]);
    const created = await grace.api.post('/api/admin/invites', { email: 'invited@example.test', maxUses: 1 });
    expect(created.status).toBe(201);
    await eventually(() => smtp.inbox.some((m) => addresses(m).includes('invited@example.test')));
    const mail = smtp.inbox.find((m) => addresses(m).includes('invited@example.test'))!;
    expect(mail.subject).toBe('Grace invited you to Acme Chat');
    expect(mail.text).toContain(created.body.url);
    expect(lines.filter((l) => l.includes(created.body.token))).toEqual([]);
  });
});

describe('an SMTP server that is silent, then drops the connection', () => {
  it('never fails or holds up the request; the failure is logged without the link', async () => {
    // Accepts connections and never says a word: the request must not wait for it.
    const held: net.Socket[] = [];
    const silent = net.createServer((s) => void held.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const server = await startTestServer({ smtp: { url: `smtp://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, from: 'x@test' } }, { logger: pino({ level: 'info' }, sink) });
    try {
      const user = await registerUser(server, 'waiting');
      const started = Date.now();
      expect((await new Api(server.url).post('/api/auth/password-reset/request', { email: user.user.email })).status).toBe(204);
      expect(Date.now() - started).toBeLessThan(1000);
      await eventually(() => held.length > 0);
      expect(lines.some((l) => l.includes('"mail_failed"'))).toBe(false);
      // The server goes away mid-conversation: the send fails, and says so in the log.
      for (const s of held) s.destroy();
      await eventually(() => lines.some((l) => l.includes('"mail_failed"')));
      expect(await server.ctx.db.query('SELECT 1 FROM password_resets WHERE user_id = $1', [user.id])).toHaveLength(1);
      expect(lines.filter((l) => l.includes('reset-password'))).toEqual([]);
    } finally {
      for (const s of held) s.destroy();
      await server.close();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
