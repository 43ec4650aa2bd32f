import { z } from 'zod';
import { Id, InstanceRole, IsoTime, Message } from './entities.ts';
import { Password, QueryInt } from './rest.ts';

// The v1.1 additions that make Confab something a team can run (API.md, "Instance roles,
// registration, invites", "Accounts", "Consent and privacy", "AI governance"). Request objects are
// strict, as everywhere.

// ---- the instance ----
export const Registration = z.enum(['open', 'invite', 'closed']);
export type Registration = z.infer<typeof Registration>;

/** GET /api/instance: what a sign-in page needs, for anyone. */
export const InstanceInfo = z.object({
  name: z.string(),
  registration: Registration,
  sso: z.array(z.object({ id: z.string(), name: z.string() })),
  version: z.string(),
  /** Whether the server can send e-mail (password reset links by e-mail); an addition. */
  email: z.boolean(),
});
export type InstanceInfo = z.infer<typeof InstanceInfo>;

/** A model id as `provider:model`. */
const ModelId = z.string().trim().min(3).max(200).regex(/^[a-z]+:.+$/, 'a model is written provider:model');

export const AiQuota = z.object({
  /** Answers per user per day paid with the server's keys; 0 = unlimited. */
  answersPerDay: z.number().int().min(0).max(1_000_000),
  /** Tokens (input + output) per user per day paid with the server's keys; 0 = unlimited. */
  tokensPerDay: z.number().int().min(0).max(1_000_000_000_000),
});
export type AiQuota = z.infer<typeof AiQuota>;

export const AiSettings = z.object({
  /** The allow-list of `provider:model` offered to users (a subset of what the server can reach). */
  models: z.array(ModelId).max(200),
  defaultModel: ModelId.nullable(),
  quota: AiQuota,
});
export type AiSettings = z.infer<typeof AiSettings>;

/** Retention (docs/admin.md): messages older than `days` are deleted with their files; null keeps them. */
export const RetentionDays = z.number().int().min(1).max(36_500).nullable();
export const RetentionSettings = z.object({ days: RetentionDays });
export type RetentionSettings = z.infer<typeof RetentionSettings>;

/** PUT /api/admin/conversations/:id/retention: that conversation's own retention; null follows the instance's. */
export const ConversationRetention = z.strictObject({ days: RetentionDays });
export type ConversationRetention = z.infer<typeof ConversationRetention>;
export const ConversationRetentionAnswer = z.object({ conversationId: z.string(), days: RetentionDays, instanceDays: RetentionDays });
export type ConversationRetentionAnswer = z.infer<typeof ConversationRetentionAnswer>;

export const AdminSettings = z.object({
  name: z.string(),
  registration: Registration,
  retention: RetentionSettings,
  ai: AiSettings.extend({
    /** Every model the server can reach with its configuration: what `models` may list. */
    available: z.array(z.string()),
  }),
});
export type AdminSettings = z.infer<typeof AdminSettings>;

export const PatchAdminSettingsBody = z.strictObject({
  name: z.string().trim().min(1).max(64).optional(),
  registration: Registration.optional(),
  retention: z.strictObject({ days: RetentionDays }).optional(),
  ai: z
    .strictObject({
      models: z.array(ModelId).max(200).optional(),
      defaultModel: ModelId.nullable().optional(),
      quota: z.strictObject({ answersPerDay: AiQuota.shape.answersPerDay.optional(), tokensPerDay: AiQuota.shape.tokensPerDay.optional() }).optional(),
    })
    .optional(),
});
export type PatchAdminSettingsBody = z.infer<typeof PatchAdminSettingsBody>;

// ---- invites ----
export const CreateInviteBody = z.strictObject({
  /** How many accounts may register with it; unlimited when absent. */
  maxUses: z.number().int().min(1).max(10_000).optional(),
  /** Hours until it expires; 7 days when absent. */
  expiresInHours: z.number().int().min(1).max(24 * 365).optional(),
  /** The instance role of accounts registered with it: `user` unless an owner says `admin`. */
  role: z.enum(['admin', 'user']).optional(),
  /** Also send the link to this address, where the server can send e-mail; an addition. */
  email: z.string().trim().toLowerCase().max(254).pipe(z.email()).optional(),
});
export type CreateInviteBody = z.infer<typeof CreateInviteBody>;

export const Invite = z.object({
  id: Id,
  token: z.string(),
  url: z.string(),
  maxUses: z.number().int().nullable(),
  uses: z.number().int(),
  expiresAt: IsoTime.nullable(),
  role: z.enum(['admin', 'user']),
  createdAt: IsoTime,
  createdBy: Id.nullable(),
});
export type Invite = z.infer<typeof Invite>;
export const InviteList = z.object({ invites: z.array(Invite) });
export type InviteList = z.infer<typeof InviteList>;

// ---- admin: users, audit ----
export const UserStatus = z.enum(['active', 'deactivated', 'deleted']);
export type UserStatus = z.infer<typeof UserStatus>;

export const AdminUserQuery = z.strictObject({
  query: z.string().trim().max(100).default(''),
  limit: QueryInt(1, 200).default(50),
  cursor: z.string().max(200).optional(),
});
export type AdminUserQuery = z.infer<typeof AdminUserQuery>;

export const AdminUser = z.object({
  id: Id,
  handle: z.string(),
  displayName: z.string(),
  email: z.string().nullable(),
  role: InstanceRole,
  status: UserStatus,
  isBot: z.boolean(),
  createdAt: IsoTime,
  lastSeenAt: IsoTime.nullable(),
});
export type AdminUser = z.infer<typeof AdminUser>;
export const AdminUserList = z.object({ users: z.array(AdminUser), nextCursor: z.string().nullable() });
export type AdminUserList = z.infer<typeof AdminUserList>;

export const PatchAdminUserBody = z.strictObject({
  role: InstanceRole.optional(),
  status: z.enum(['active', 'deactivated']).optional(),
});
export type PatchAdminUserBody = z.infer<typeof PatchAdminUserBody>;

export const PasswordResetLink = z.object({ url: z.string(), token: z.string(), expiresAt: IsoTime });
export type PasswordResetLink = z.infer<typeof PasswordResetLink>;

export const PageQuery = z.strictObject({
  limit: QueryInt(1, 200).default(50),
  cursor: z.string().max(200).optional(),
});
export type PageQuery = z.infer<typeof PageQuery>;

export const AuditEntry = z.object({
  id: Id,
  at: IsoTime,
  actorId: Id.nullable(),
  action: z.string(),
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});
export type AuditEntry = z.infer<typeof AuditEntry>;
export const AuditList = z.object({ entries: z.array(AuditEntry), nextCursor: z.string().nullable() });
export type AuditList = z.infer<typeof AuditList>;

// ---- accounts ----
export const ChangePasswordBody = z.strictObject({ currentPassword: z.string().min(1).max(256), newPassword: Password });
export type ChangePasswordBody = z.infer<typeof ChangePasswordBody>;
export const PasswordResetBody = z.strictObject({ token: z.string().min(1).max(256), newPassword: Password });
export type PasswordResetBody = z.infer<typeof PasswordResetBody>;
/** POST /api/auth/password-reset/request: e-mails a reset link where SMTP is configured; an addition. */
export const PasswordResetRequestBody = z.strictObject({ email: z.string().trim().toLowerCase().max(254).pipe(z.email()) });
export type PasswordResetRequestBody = z.infer<typeof PasswordResetRequestBody>;

export const SessionInfo = z.object({
  id: Id,
  current: z.boolean(),
  createdAt: IsoTime,
  lastUsedAt: IsoTime,
  userAgent: z.string().nullable(),
  ip: z.string().nullable(),
});
export type SessionInfo = z.infer<typeof SessionInfo>;
export const SessionList = z.object({ sessions: z.array(SessionInfo) });
export type SessionList = z.infer<typeof SessionList>;

export const TotpSetup = z.object({ secret: z.string(), otpauthUrl: z.string() });
export type TotpSetup = z.infer<typeof TotpSetup>;
export const TotpEnableBody = z.strictObject({ code: z.string().trim().min(6).max(10) });
export type TotpEnableBody = z.infer<typeof TotpEnableBody>;
export const RecoveryCodes = z.object({ recoveryCodes: z.array(z.string()) });
export type RecoveryCodes = z.infer<typeof RecoveryCodes>;
export const PasswordBody = z.strictObject({ password: z.string().min(1).max(256) });
export type PasswordBody = z.infer<typeof PasswordBody>;

// ---- consent and privacy ----
export const Privacy = z.object({
  discoverable: z.boolean(),
  showLastSeen: z.boolean(),
  directMessagesFrom: z.enum(['everyone', 'shared']),
});
export type Privacy = z.infer<typeof Privacy>;
export const PutPrivacyBody = z.strictObject(Privacy.shape);
export type PutPrivacyBody = z.infer<typeof PutPrivacyBody>;

export const BlockedUser = z.object({ id: Id, handle: z.string(), displayName: z.string(), blockedAt: IsoTime });
export type BlockedUser = z.infer<typeof BlockedUser>;
export const BlockList = z.object({ blocks: z.array(BlockedUser) });
export type BlockList = z.infer<typeof BlockList>;

export const ReportBody = z.strictObject({ reason: z.string().trim().min(1).max(1000) });
export type ReportBody = z.infer<typeof ReportBody>;
export const ReportStatus = z.enum(['open', 'resolved', 'dismissed']);
export type ReportStatus = z.infer<typeof ReportStatus>;
export const Report = z.object({
  id: Id,
  messageId: Id,
  conversationId: Id,
  reporterId: Id.nullable(),
  reason: z.string(),
  status: ReportStatus,
  createdAt: IsoTime,
  closedBy: Id.nullable(),
  closedAt: IsoTime.nullable(),
  /** The reported message as it is now (admins see its content). Null once it is gone. */
  message: Message.nullable(),
});
export type Report = z.infer<typeof Report>;
export const ReportListQuery = z.strictObject({
  status: ReportStatus.optional(),
  limit: QueryInt(1, 200).default(50),
  cursor: z.string().max(200).optional(),
});
export type ReportListQuery = z.infer<typeof ReportListQuery>;
export const ReportList = z.object({ reports: z.array(Report), nextCursor: z.string().nullable() });
export type ReportList = z.infer<typeof ReportList>;
export const CloseReportBody = z.strictObject({ status: z.enum(['resolved', 'dismissed']) });
export type CloseReportBody = z.infer<typeof CloseReportBody>;

// ---- AI usage ----
export const UsageQuery = z.strictObject({ days: QueryInt(1, 366).default(30) });
export type UsageQuery = z.infer<typeof UsageQuery>;
export const UsageDay = z.object({ date: z.string(), answers: z.number().int(), inputTokens: z.number().int(), outputTokens: z.number().int() });
export type UsageDay = z.infer<typeof UsageDay>;
/** The caller's usage, and (an addition) what is left of today's allowance: null where unlimited. */
export const Usage = z.object({
  days: z.array(UsageDay),
  today: z.object({
    answersLeft: z.number().int().nullable(),
    tokensLeft: z.number().int().nullable(),
    quota: AiQuota,
  }),
});
export type Usage = z.infer<typeof Usage>;
export const AdminUsage = z.object({
  users: z.array(z.object({ userId: Id, handle: z.string(), displayName: z.string(), days: z.array(UsageDay) })),
});
export type AdminUsage = z.infer<typeof AdminUsage>;

export type AdminUserQueryInput = Partial<AdminUserQuery>;
export type PageQueryInput = Partial<PageQuery>;
export type ReportListQueryInput = Partial<ReportListQuery>;
