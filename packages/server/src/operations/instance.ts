import { ConfabError, PROTOCOL_VERSION, type AdminSettings, type AiQuota, type AuditList, type InstanceInfo, type PageQuery, type PatchAdminSettingsBody, type Registration } from '@confab/protocol';
import { catalog } from '../ai/models.ts';
import type { Context } from '../context.ts';
import { newId } from '../ids.ts';
import type { Queryable } from '../storage/db.ts';
import { insertAuditEntry, listAuditEntries, readInstanceSettings, writeInstanceSettings } from '../storage/instance.ts';
import type { UserRow } from '../storage/rows.ts';
import { findUser } from '../storage/users.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { iso } from './users.ts';

// The instance as a whole: its settings (what admins change at run time over what the environment
// set), who administers it, and the audit log of what they did. API.md, "Instance roles,
// registration, invites".

/** What admins stored (instance_settings); an absent field falls back to the configuration. */
interface StoredSettings {
  name?: string;
  registration?: Registration;
  ai?: { models?: string[]; defaultModel?: string | null; quota?: Partial<AiQuota> };
  retention?: { days: number | null };
}

/** The settings in force: stored values over the configuration's. */
export interface InstanceSettings {
  name: string;
  registration: Registration;
  /** Messages older than `days` are deleted (operations/retention.ts); null keeps them. */
  retention: { days: number | null };
  ai: {
    /** The models offered to users: the admins' allow-list, else every model the configuration offers. */
    models: string[];
    defaultModel: string | null;
    quota: AiQuota;
  };
}

export async function instanceSettings(ctx: Context, db: Queryable = ctx.db): Promise<InstanceSettings> {
  const stored = (await readInstanceSettings(db)) as StoredSettings;
  const ai = stored.ai ?? {};
  return {
    name: stored.name ?? ctx.config.instanceName,
    registration: stored.registration ?? ctx.config.registration,
    retention: { days: stored.retention?.days ?? null },
    ai: {
      models: ai.models ?? catalog(ctx.config.ai),
      defaultModel: ai.defaultModel !== undefined ? ai.defaultModel : (ctx.config.ai.defaultModel ?? null),
      quota: { ...ctx.config.ai.quota, ...ai.quota },
    },
  };
}

/** GET /api/instance: what a sign-in page needs, for anyone. */
export async function getInstanceInfo(ctx: Context): Promise<InstanceInfo> {
  const settings = await instanceSettings(ctx);
  return { name: settings.name, registration: settings.registration, sso: ctx.config.oidc.map((p) => ({ id: p.id, name: p.name })), version: `${PROTOCOL_VERSION}.1.0`, email: ctx.config.smtp !== undefined };
}

function toAdminSettings(ctx: Context, s: InstanceSettings): AdminSettings {
  return { name: s.name, registration: s.registration, retention: s.retention, ai: { ...s.ai, available: catalog(ctx.config.ai) } };
}

export async function getAdminSettings(ctx: Context, actorId: string): Promise<AdminSettings> {
  await requireAdmin(ctx, actorId);
  return toAdminSettings(ctx, await instanceSettings(ctx));
}

/** PATCH /api/admin/settings: merges the change into what is stored, and audits it. */
export async function patchAdminSettings(ctx: Context, actorId: string, patch: PatchAdminSettingsBody): Promise<AdminSettings> {
  await requireAdmin(ctx, actorId);
  const available = new Set(catalog(ctx.config.ai));
  const unknown = patch.ai?.models?.find((m) => !available.has(m));
  if (unknown) throw new ConfabError('VALIDATION_ERROR', `ai.models: "${unknown}" is not a model this server offers (CONFAB_MODELS)`);
  await ctx.db.transaction(async (tx) => {
    const stored = (await readInstanceSettings(tx)) as StoredSettings;
    const next: StoredSettings = { ...stored };
    if (patch.name !== undefined) next.name = patch.name;
    if (patch.registration !== undefined) next.registration = patch.registration;
    if (patch.retention !== undefined) next.retention = { days: patch.retention.days };
    if (patch.ai) {
      const ai = { ...stored.ai };
      if (patch.ai.models !== undefined) ai.models = patch.ai.models;
      if (patch.ai.defaultModel !== undefined) ai.defaultModel = patch.ai.defaultModel;
      if (patch.ai.quota) {
        const { answersPerDay, tokensPerDay } = patch.ai.quota;
        ai.quota = { ...ai.quota, ...(answersPerDay !== undefined && { answersPerDay }), ...(tokensPerDay !== undefined && { tokensPerDay }) };
      }
      next.ai = ai;
    }
    await writeInstanceSettings(tx, JSON.stringify(next));
    const effective = await instanceSettings(ctx, tx);
    if (effective.ai.defaultModel !== null && !effective.ai.models.includes(effective.ai.defaultModel)) {
      throw new ConfabError('VALIDATION_ERROR', 'ai.defaultModel must be one of ai.models');
    }
    await recordAudit(tx, actorId, 'settings.update', { type: 'instance', id: null }, { ...patch });
  });
  return toAdminSettings(ctx, await instanceSettings(ctx));
}

// ---- who administers ----

/** The caller, if they are an active instance owner or admin; FORBIDDEN otherwise. */
export async function requireAdmin(ctx: Context, userId: string, db: Queryable = ctx.db): Promise<UserRow> {
  const user = await findUser(db, userId);
  if (!user || user.status !== 'active') throw new ConfabError('UNAUTHENTICATED', 'this account is not active');
  if (user.role !== 'owner' && user.role !== 'admin') throw new ConfabError('FORBIDDEN', 'only instance admins may do this');
  return user;
}

/**
 * Who does an admin action: an active instance admin or owner, or the `confab` command on the
 * server's machine (`actorId` null), which has an owner's powers (whoever runs it can read the
 * database anyway) and is audited with a null actor.
 */
export interface AdminActor {
  id: string | null;
  role: 'owner' | 'admin';
}

export const COMMAND_LINE = null;

export async function adminActor(ctx: Context, actorId: string | null, db: Queryable = ctx.db): Promise<AdminActor> {
  if (actorId === COMMAND_LINE) return { id: null, role: 'owner' };
  const user = await requireAdmin(ctx, actorId, db);
  return { id: user.id, role: user.role === 'owner' ? 'owner' : 'admin' };
}

/** The caller, if they are an active instance owner; FORBIDDEN otherwise. */
export async function requireOwner(ctx: Context, userId: string, db: Queryable = ctx.db): Promise<UserRow> {
  const user = await requireAdmin(ctx, userId, db);
  if (user.role !== 'owner') throw new ConfabError('FORBIDDEN', 'only an instance owner may do this');
  return user;
}

// ---- the audit log ----

/**
 * Writes one audit entry, in the transaction of the change it records (so an entry exists exactly
 * when the change does). `actorId` null: the command line. Details must hold nothing secret (no
 * tokens, no passwords).
 */
export async function recordAudit(
  db: Queryable,
  actorId: string | null,
  action: string,
  target: { type: string; id: string | null },
  details: Record<string, unknown> = {},
): Promise<void> {
  await insertAuditEntry(db, { id: newId(), actorId, action, targetType: target.type, targetId: target.id, details });
}

export async function listAudit(ctx: Context, actorId: string, query: PageQuery): Promise<AuditList> {
  await requireAdmin(ctx, actorId);
  const after = decodeCursor(query.cursor);
  if (after && Number.isNaN(Date.parse(after.key))) throw new ConfabError('VALIDATION_ERROR', 'cursor is not one this server gave out');
  const rows = await listAuditEntries(ctx.db, after && { at: after.key, id: after.id }, query.limit + 1);
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    entries: page.map((r) => ({ id: r.id, at: iso(r.at)!, actorId: r.actor_id, action: r.action, targetType: r.target_type, targetId: r.target_id, details: r.details })),
    nextCursor: rows.length > query.limit && last ? encodeCursor(last.at_text, last.id) : null,
  };
}
