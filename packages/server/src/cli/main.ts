import { ConfabError, Email, Handle, InstanceRole, Password } from '@confab/protocol';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadCommandLineConfig, type Config } from '../config.ts';
import type { Context } from '../context.ts';
import { createPasswordResetLink } from '../operations/accounts.ts';
import { createAccount, findAccount, listAdminUsers, patchAdminUser } from '../operations/admin.ts';
import { COMMAND_LINE } from '../operations/instance.ts';
import { createInvite } from '../operations/invites.ts';
import { registerBackupCommands } from './backupCommands.ts';
import { openCliContext } from './context.ts';

// `confab`: the operator's command line. It works on the server's own storage (DATA_DIR or
// DATABASE_URL, from the same environment as the server) through the same operations as the admin
// routes, with an owner's powers, and every change is in the audit log (actor: none).

/** Where printed links point: the public URL, else this machine at the configured port. */
const originOf = (config: Config) => config.publicUrl ?? `http://localhost:${config.port}`;

const whole = (name: string) => (raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number of at least 1`);
  return n;
};

/** Parses one value with a protocol schema, as the REST API would. */
const valid = <T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ message: string }> } } }, name: string) => (raw: string) => {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new InvalidArgumentError(`${name}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
};

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Runs `work` with the server's context, and closes the database after. */
async function withContext(work: (ctx: Context) => Promise<void>): Promise<void> {
  const config = loadCommandLineConfig();
  const { ctx, close } = await openCliContext(config);
  try {
    await work(ctx);
  } finally {
    await close();
  }
}

function table(rows: Array<Record<string, string>>): string {
  if (rows.length === 0) return '(none)';
  const keys = Object.keys(rows[0]!);
  const width = keys.map((k) => Math.max(k.length, ...rows.map((r) => (r[k] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i]!)).join('  ').trimEnd();
  return [line(keys), ...rows.map((r) => line(keys.map((k) => r[k] ?? '')))].join('\n');
}

export function buildProgram(): Command {
  const program = new Command('confab')
    .description('Administer a Confab server. Uses the same storage as the server: DATA_DIR (embedded database; stop the server first, except for `confab backup`) or DATABASE_URL (PostgreSQL).')
    .showHelpAfterError()
    // Throw instead of exiting, so the database is closed (subcommands inherit this).
    .exitOverride();
  const user = program.command('user').description('accounts');

  user
    .command('create')
    .description('create an account (no invite needed); prints a link to set its password unless --password-stdin is given')
    .requiredOption('--email <email>', 'sign-in email', valid(Email, 'email'))
    .requiredOption('--handle <handle>', 'unique @handle', valid(Handle, 'handle'))
    .option('--name <displayName>', 'display name (the handle when absent)')
    .addOption(new Option('--role <role>', 'instance role').choices(InstanceRole.options).default('user'))
    .option('--password-stdin', 'read the password from standard input')
    .action(async (opts: { email: string; handle: string; name?: string; role: InstanceRole; passwordStdin?: boolean }) => {
      const password = opts.passwordStdin ? valid(Password, 'password')(await readStdin()) : undefined;
      await withContext(async (ctx) => {
        const created = await createAccount(ctx, COMMAND_LINE, { email: opts.email, handle: opts.handle, displayName: opts.name?.trim() || opts.handle, role: opts.role, password });
        console.log(`created ${created.role} @${created.handle} (${created.id})`);
        if (!password) {
          const link = await createPasswordResetLink(ctx, created.id, originOf(ctx.config), COMMAND_LINE);
          console.log(`set its password at: ${link.url}\n(valid until ${link.expiresAt})`);
        }
      });
    });

  user
    .command('list')
    .description('list accounts, newest first')
    .option('--query <text>', 'only those whose handle, name or email contains this', '')
    .option('--limit <n>', 'how many', whole('--limit'), 50)
    .action(async (opts: { query: string; limit: number }) => {
      await withContext(async (ctx) => {
        const { users } = await listAdminUsers(ctx, COMMAND_LINE, { query: opts.query, limit: Math.min(opts.limit, 200) });
        const rows = users.map((u) => ({ id: u.id, handle: `@${u.handle}`, name: u.displayName, email: u.email ?? '', role: u.isBot ? 'bot' : u.role, status: u.status, created: u.createdAt.slice(0, 10) }));
        console.log(table(rows));
      });
    });

  user
    .command('set-role')
    .description("change an account's instance role")
    .argument('<user>', 'id, handle or email')
    .argument('<role>', `one of ${InstanceRole.options.join(', ')}`, valid(InstanceRole, 'role'))
    .action(async (reference: string, role: InstanceRole) => {
      await withContext(async (ctx) => {
        const target = await findAccount(ctx, reference);
        const changed = await patchAdminUser(ctx, COMMAND_LINE, target.id, { role });
        console.log(`@${changed.handle} is now ${changed.role}`);
      });
    });

  for (const [name, status] of [
    ['deactivate', 'deactivated'],
    ['reactivate', 'active'],
  ] as const) {
    user
      .command(name)
      .description(status === 'active' ? 'let a deactivated account sign in again' : 'sign an account out everywhere and keep it out')
      .argument('<user>', 'id, handle or email')
      .action(async (reference: string) => {
        await withContext(async (ctx) => {
          const target = await findAccount(ctx, reference);
          const changed = await patchAdminUser(ctx, COMMAND_LINE, target.id, { status });
          console.log(`@${changed.handle} is ${changed.status}`);
        });
      });
  }

  user
    .command('reset-password')
    .description('print a one-time link (24 hours) with which the person sets a new password')
    .argument('<user>', 'id, handle or email')
    .action(async (reference: string) => {
      await withContext(async (ctx) => {
        const target = await findAccount(ctx, reference);
        const link = await createPasswordResetLink(ctx, target.id, originOf(ctx.config), COMMAND_LINE);
        console.log(`${link.url}\n(valid until ${link.expiresAt})`);
      });
    });

  program
    .command('invite')
    .description('invitations')
    .command('create')
    .description('print an invite link with which people register')
    .option('--max-uses <n>', 'how many accounts may register with it (unlimited when absent)', whole('--max-uses'))
    .option('--expires-in-hours <h>', 'hours until it expires', whole('--expires-in-hours'), 168)
    .addOption(new Option('--role <role>', 'instance role of those who register with it').choices(['user', 'admin']).default('user'))
    .action(async (opts: { maxUses?: number; expiresInHours: number; role: 'user' | 'admin' }) => {
      await withContext(async (ctx) => {
        const invite = await createInvite(ctx, COMMAND_LINE, { ...(opts.maxUses && { maxUses: opts.maxUses }), expiresInHours: opts.expiresInHours, role: opts.role }, originOf(ctx.config));
        console.log(`${invite.url}\n(${invite.maxUses ? `${invite.maxUses} use${invite.maxUses === 1 ? '' : 's'}, ` : ''}valid until ${invite.expiresAt})`);
      });
    });
  registerBackupCommands(program);
  return program;
}

/** Runs the command line; resolves to the process's exit code. */
export async function runCli(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    // Commander printed its own message (or the help).
    if (error instanceof CommanderError) return error.exitCode;
    // A known refusal (a taken handle, the last owner) or a setting the server would refuse too: its message, no stack.
    const message = error instanceof ConfabError || error instanceof Error ? error.message : String(error);
    console.error(`confab: ${message}`);
    return 1;
  }
}
