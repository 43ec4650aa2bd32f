import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { Context } from '../context.ts';

/**
 * E-mail the server sends (password reset links, invitations), over SMTP (CONFAB_SMTP_URL, _FROM).
 * Sending never throws and never hangs: the transport gives up after the timeouts below, a
 * failure is logged (without the message, which carries a one-time link) and reported as false.
 */
export interface Mailer {
  send(message: MailMessage): Promise<boolean>;
  close(): void;
}

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** What the message is, for the log (never its content). */
  kind: string;
}

/** How long the transport waits for each step before it gives up on a message. */
export const MAIL_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000, dnsTimeout: 10_000 };

export function createMailer(smtp: { url: string; from: string }, log: Logger): Mailer {
  const transport = nodemailer.createTransport({ url: smtp.url, ...MAIL_TIMEOUTS }, { from: smtp.from });
  return {
    async send(message) {
      try {
        await transport.sendMail({ to: message.to, subject: message.subject, text: message.text, html: message.html });
        log.info({ event: 'mail_sent', kind: message.kind }, 'e-mail sent');
        return true;
      } catch (error) {
        // The error only: the message holds a one-time link.
        log.warn({ event: 'mail_failed', kind: message.kind, err: { message: (error as Error).message, code: (error as { code?: string }).code } }, 'e-mail could not be sent');
        return false;
      }
    },
    close() {
      transport.close();
    },
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function linkMail(kind: string, to: string, subject: string, lines: string[], link: { url: string; label: string }, after: string): MailMessage {
  const text = `${lines.join('\n\n')}\n\n${link.url}\n\n${after}\n`;
  const html = `<!doctype html><html><body style="font-family: sans-serif; line-height: 1.5">
${lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('\n')}
<p><a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a></p>
<p style="color: #666">${escapeHtml(after)}</p>
</body></html>`;
  return { kind, to, subject, text, html };
}

/** Sends a password reset link; false when there is no SMTP or it failed (logged). */
export async function sendPasswordResetEmail(ctx: Context, to: string, url: string, instanceName: string): Promise<boolean> {
  if (!ctx.mail) return false;
  return ctx.mail.send(
    linkMail(
      'password_reset',
      to,
      `Reset your ${instanceName} password`,
      [`Somebody (hopefully you) asked to reset the password of your ${instanceName} account.`, 'Open this link within 24 hours to choose a new password:'],
      { url, label: 'Choose a new password' },
      'If you did not ask for this, ignore this e-mail: your password stays as it is.',
    ),
  );
}

/** Sends an invitation link; false when there is no SMTP or it failed (logged). */
export async function sendInviteEmail(ctx: Context, to: string, url: string, inviterName: string, name: string): Promise<boolean> {
  if (!ctx.mail) return false;
  return ctx.mail.send(
    linkMail(
      'invite',
      to,
      `${inviterName} invited you to ${name}`,
      [`${inviterName} invited you to join ${name}, a chat on Confab.`, 'Open this link to create your account:'],
      { url, label: `Join ${name}` },
      'If you did not expect this, ignore this e-mail.',
    ),
  );
}
