import {
  ConfabError,
  type AddParticipantsBody,
  type AiProvider,
  type ApiKeyList,
  type Attachment,
  type Channel,
  type ChannelList,
  type ChannelListQueryInput,
  type AttachmentText,
  type AttachmentTicket,
  type Conversation,
  type ConversationList,
  type ConversationListQueryInput,
  type CreateAssistantBody,
  type CreateAttachmentBody,
  type CreateGroupBodyInput,
  type Me,
  type MentionList,
  type MentionListQueryInput,
  type Message,
  type MessageList,
  type MessageListQueryInput,
  type MessageStatusBody,
  type MessageStatusResult,
  type ModelList,
  type NotificationSettings,
  type PinList,
  type Project,
  type ProjectList,
  type PublicUser,
  type PushSubscriptionBody,
  type PushSubscriptionInfo,
  type PushSubscriptionList,
  type Role,
  type SearchQueryInput,
  type SearchResult,
  type SendMessageBody,
  type Settings,
  type ThreadFollow,
  type ThreadList,
  type ThreadListQueryInput,
  type TokenPair,
  type UpdateConversationBody,
  type UpdateMeBody,
  type UpdateNotificationSettingsBody,
  type UserList,
  type UserSearchQueryInput,
  type VapidPublicKey,
} from '@confab/protocol';
// Issue 20's sections import their types one statement each, so work on them merges cleanly.
import type { AdminSettings, AdminUser, AdminUserList, AdminUserQueryInput, AuditList, ConversationRetentionAnswer, CreateInviteBody, InstanceInfo, Invite, InviteList, PageQueryInput, PatchAdminSettingsBody, PatchAdminUserBody } from '@confab/protocol'; // admin

import type { ChangePasswordBody, PasswordResetBody, PasswordResetLink, SessionList } from '@confab/protocol'; // accounts

import type { RecoveryCodes, TotpSetup } from '@confab/protocol'; // second factor

import type { BlockList, CloseReportBody, Privacy, PutPrivacyBody, Report, ReportList, ReportListQueryInput } from '@confab/protocol'; // consent

import type { AdminUsage, Usage } from '@confab/protocol'; // AI governance

import type { MessageVersionList } from '@confab/protocol'; // AI conversations: versions

import type { AuthResult, CreatedPlatformKey, CreatePlatformKeyBody, MintTokensBody, PlatformKeyList, PlatformUser, PutPlatformUserBody } from '@confab/protocol'; // platform

import type { BotList, BotWithToken, CreateBotBody } from '@confab/protocol'; // bots

import type { CreatedWebhook, CreateWebhookBody, PageQueryInput as WebhookPageQuery, UpdateWebhookBody, Webhook, WebhookDeliveryList, WebhookList } from '@confab/protocol'; // webhooks

import type { CreatedIncomingHook, IncomingHookList, Message as HookMessage } from '@confab/protocol'; // incoming hooks

import type { LinkedSignIns, AuthResult as SsoAuthResult } from '@confab/protocol'; // sso

import type { ConversationShare, ConversationShareList, SharedSnapshot } from '@confab/protocol'; // branches and shares
import type { Rest } from './rest.ts';

/**
 * Every REST route of the server and the SDK method that calls it: `api.x` is `client.api.x`, a bare
 * name is a method of the client itself (the session's calls). `client.createGroup`, `createDirect`
 * and `createAssistant` wrap their `api` calls and also add the result to the local store. A test
 * compares this table with the routes a started server publishes, so a new route needs a method.
 */
export const REST_ROUTES = [
  { method: 'POST', path: '/api/auth/register', sdk: 'register' },
  { method: 'POST', path: '/api/auth/login', sdk: 'login' },
  { method: 'POST', path: '/api/auth/refresh', sdk: 'api.refreshTokens' },
  { method: 'POST', path: '/api/auth/logout', sdk: 'logout' },
  { method: 'GET', path: '/api/auth/me', sdk: 'fetchMe' },
  { method: 'GET', path: '/api/users', sdk: 'api.searchUsers' },
  { method: 'GET', path: '/api/users/:id', sdk: 'api.getUser' },
  { method: 'PATCH', path: '/api/users/me', sdk: 'api.updateMe' },
  { method: 'GET', path: '/api/users/me/settings', sdk: 'api.getSettings' },
  { method: 'PUT', path: '/api/users/me/settings', sdk: 'api.putSettings' },
  { method: 'GET', path: '/api/users/me/notifications', sdk: 'api.getNotificationSettings' },
  { method: 'PUT', path: '/api/users/me/notifications', sdk: 'api.updateNotificationSettings' },
  // -- the instance and its administration
  { method: 'GET', path: '/api/instance', sdk: 'api.getInstance' },
  { method: 'GET', path: '/api/admin/settings', sdk: 'api.getAdminSettings' },
  { method: 'PATCH', path: '/api/admin/settings', sdk: 'api.updateAdminSettings' },
  { method: 'GET', path: '/api/admin/conversations/:id/retention', sdk: 'api.getConversationRetention' },
  { method: 'PUT', path: '/api/admin/conversations/:id/retention', sdk: 'api.setConversationRetention' },
  { method: 'GET', path: '/api/admin/audit', sdk: 'api.listAudit' },
  { method: 'POST', path: '/api/admin/invites', sdk: 'api.createInvite' },
  { method: 'GET', path: '/api/admin/invites', sdk: 'api.listInvites' },
  { method: 'DELETE', path: '/api/admin/invites/:id', sdk: 'api.revokeInvite' },
  { method: 'GET', path: '/api/admin/users', sdk: 'api.listAdminUsers' },
  { method: 'PATCH', path: '/api/admin/users/:id', sdk: 'api.updateAdminUser' },
  // -- accounts
  { method: 'POST', path: '/api/auth/password', sdk: 'api.changePassword' },
  { method: 'POST', path: '/api/auth/password-reset', sdk: 'api.resetPassword' },
  { method: 'POST', path: '/api/auth/password-reset/request', sdk: 'api.requestPasswordReset' },
  { method: 'GET', path: '/api/auth/sessions', sdk: 'api.listSessions' },
  { method: 'DELETE', path: '/api/auth/sessions/:id', sdk: 'api.endSession' },
  { method: 'DELETE', path: '/api/auth/sessions', sdk: 'api.endOtherSessions' },
  { method: 'DELETE', path: '/api/users/me', sdk: 'api.deleteAccount' },
  { method: 'GET', path: '/api/users/me/export', sdk: 'api.exportData' },
  { method: 'POST', path: '/api/admin/users/:id/password-reset', sdk: 'api.createPasswordResetLink' },
  { method: 'DELETE', path: '/api/admin/users/:id', sdk: 'api.deleteUser' },

  // -- second factor
  { method: 'POST', path: '/api/auth/totp/setup', sdk: 'api.setupTotp' },
  { method: 'POST', path: '/api/auth/totp/enable', sdk: 'api.enableTotp' },
  { method: 'DELETE', path: '/api/auth/totp', sdk: 'api.disableTotp' },

  // -- consent and privacy
  { method: 'POST', path: '/api/users/:id/block', sdk: 'api.blockUser' },
  { method: 'DELETE', path: '/api/users/:id/block', sdk: 'api.unblockUser' },
  { method: 'GET', path: '/api/users/me/blocks', sdk: 'api.listBlocks' },
  { method: 'GET', path: '/api/users/me/privacy', sdk: 'api.getPrivacy' },
  { method: 'PUT', path: '/api/users/me/privacy', sdk: 'api.putPrivacy' },
  { method: 'POST', path: '/api/messages/:id/report', sdk: 'api.reportMessage' },
  { method: 'GET', path: '/api/admin/reports', sdk: 'api.listReports' },
  { method: 'PATCH', path: '/api/admin/reports/:id', sdk: 'api.closeReport' },

  // -- platform
  { method: 'POST', path: '/api/admin/api-keys', sdk: 'api.createPlatformKey' },
  { method: 'GET', path: '/api/admin/api-keys', sdk: 'api.listPlatformKeys' },
  { method: 'DELETE', path: '/api/admin/api-keys/:id', sdk: 'api.revokePlatformKey' },
  { method: 'PUT', path: '/api/platform/users/:externalId', sdk: 'api.putPlatformUser' },
  { method: 'POST', path: '/api/platform/tokens', sdk: 'api.mintTokens' },
  { method: 'POST', path: '/api/auth/external', sdk: 'api.exchangeExternalToken' },

  // -- bots
  { method: 'POST', path: '/api/bots', sdk: 'api.createBot' },
  { method: 'GET', path: '/api/bots', sdk: 'api.listBots' },
  { method: 'POST', path: '/api/bots/:id/token', sdk: 'api.rotateBotToken' },
  { method: 'DELETE', path: '/api/bots/:id', sdk: 'api.deleteBot' },

  // -- webhooks
  { method: 'POST', path: '/api/admin/webhooks', sdk: 'api.createWebhook' },
  { method: 'GET', path: '/api/admin/webhooks', sdk: 'api.listWebhooks' },
  { method: 'GET', path: '/api/admin/webhooks/:id', sdk: 'api.getWebhook' },
  { method: 'PATCH', path: '/api/admin/webhooks/:id', sdk: 'api.updateWebhook' },
  { method: 'DELETE', path: '/api/admin/webhooks/:id', sdk: 'api.deleteWebhook' },
  { method: 'GET', path: '/api/admin/webhooks/:id/deliveries', sdk: 'api.listWebhookDeliveries' },
  { method: 'POST', path: '/api/admin/webhooks/:id/deliveries/:deliveryId/retry', sdk: 'api.retryWebhookDelivery' },

  // -- incoming hooks
  { method: 'POST', path: '/api/conversations/:id/hooks', sdk: 'api.createIncomingHook' },
  { method: 'GET', path: '/api/conversations/:id/hooks', sdk: 'api.listIncomingHooks' },
  { method: 'DELETE', path: '/api/conversations/:id/hooks/:hookId', sdk: 'api.deleteIncomingHook' },
  { method: 'POST', path: '/api/hooks/:hookId/:token', sdk: 'api.postToIncomingHook' },

  // -- AI conversations: branches and shares
  { method: 'POST', path: '/api/conversations/:id/branch', sdk: 'api.branchConversation' },
  { method: 'POST', path: '/api/conversations/:id/shares', sdk: 'api.createShare' },
  { method: 'GET', path: '/api/conversations/:id/shares', sdk: 'api.listShares' },
  { method: 'DELETE', path: '/api/conversations/:id/shares/:shareId', sdk: 'api.deleteShare' },
  { method: 'GET', path: '/api/shared/:id', sdk: 'api.getShared' },

  // -- sso
  { method: 'GET', path: '/api/auth/oidc/:id/start', sdk: 'api.ssoStartUrl' },
  { method: 'GET', path: '/api/auth/oidc/:id/callback', sdk: 'api.ssoCallbackUrl' },
  { method: 'POST', path: '/api/auth/oidc/exchange', sdk: 'api.exchangeSsoCode' },
  { method: 'GET', path: '/api/users/me/sso', sdk: 'api.listLinkedSignIns' },
  { method: 'DELETE', path: '/api/users/me/sso/:id', sdk: 'api.unlinkSignIn' },

  // -- AI
  { method: 'GET', path: '/api/models', sdk: 'api.listModels' },
  { method: 'GET', path: '/api/users/me/keys', sdk: 'api.listApiKeys' },
  { method: 'PUT', path: '/api/users/me/keys/:provider', sdk: 'api.putApiKey' },
  { method: 'DELETE', path: '/api/users/me/keys/:provider', sdk: 'api.deleteApiKey' },
  { method: 'GET', path: '/api/users/me/usage', sdk: 'api.getUsage' },
  { method: 'GET', path: '/api/admin/usage', sdk: 'api.getAdminUsage' },
  { method: 'GET', path: '/api/conversations', sdk: 'api.listConversations' },
  { method: 'GET', path: '/api/conversations/:id', sdk: 'api.getConversation' },
  { method: 'POST', path: '/api/conversations/direct', sdk: 'api.createDirect' },
  { method: 'POST', path: '/api/conversations/group', sdk: 'api.createGroup' },
  { method: 'POST', path: '/api/conversations/assistant', sdk: 'api.createAssistant' },
  { method: 'PATCH', path: '/api/conversations/:id', sdk: 'api.updateConversation' },
  { method: 'DELETE', path: '/api/conversations/:id', sdk: 'api.deleteConversation' },
  { method: 'POST', path: '/api/conversations/:id/participants', sdk: 'api.addParticipants' },
  { method: 'PATCH', path: '/api/conversations/:id/participants/:userId', sdk: 'api.changeRole' },
  { method: 'DELETE', path: '/api/conversations/:id/participants/:userId', sdk: 'api.removeParticipant' },
  { method: 'GET', path: '/api/projects', sdk: 'api.listProjects' },
  { method: 'POST', path: '/api/projects', sdk: 'api.createProject' },
  { method: 'PATCH', path: '/api/projects/:id', sdk: 'api.renameProject' },
  { method: 'DELETE', path: '/api/projects/:id', sdk: 'api.deleteProject' },
  { method: 'GET', path: '/api/conversations/:id/messages', sdk: 'api.listMessages' },
  { method: 'POST', path: '/api/messages', sdk: 'api.sendMessage' },
  { method: 'PATCH', path: '/api/messages/:id', sdk: 'api.editMessage' },
  { method: 'DELETE', path: '/api/messages/:id', sdk: 'api.deleteMessage' },
  { method: 'GET', path: '/api/messages/:id/versions', sdk: 'api.listMessageVersions' },
  { method: 'POST', path: '/api/messages/:id/status', sdk: 'api.markMessage' },
  { method: 'POST', path: '/api/messages/:id/reactions', sdk: 'api.addReaction' },
  { method: 'DELETE', path: '/api/messages/:id/reactions/:emoji', sdk: 'api.removeReaction' },
  { method: 'DELETE', path: '/api/messages/:id/preview', sdk: 'api.removeLinkPreview' },
  { method: 'GET', path: '/api/messages/:id/preview/image', sdk: 'api.downloadPreviewImage' },
  { method: 'GET', path: '/api/search', sdk: 'api.search' },
  { method: 'GET', path: '/api/channels', sdk: 'api.listChannels' },
  { method: 'GET', path: '/api/channels/:id', sdk: 'api.getChannel' },
  { method: 'POST', path: '/api/channels/:id/join', sdk: 'api.joinChannel' },
  { method: 'GET', path: '/api/conversations/:id/pins', sdk: 'api.listPins' },
  { method: 'POST', path: '/api/messages/:id/pin', sdk: 'api.pinMessage' },
  { method: 'DELETE', path: '/api/messages/:id/pin', sdk: 'api.unpinMessage' },
  { method: 'PUT', path: '/api/messages/:id/follow', sdk: 'api.followThread' },
  { method: 'GET', path: '/api/threads', sdk: 'api.listThreads' },
  { method: 'GET', path: '/api/mentions', sdk: 'api.listMentions' },
  { method: 'POST', path: '/api/attachments', sdk: 'api.createAttachment' },
  { method: 'PUT', path: '/api/attachments/:id/upload', sdk: 'api.uploadAttachment' },
  { method: 'GET', path: '/api/attachments/:id', sdk: 'api.downloadAttachment' },
  { method: 'GET', path: '/api/attachments/:id/preview', sdk: 'api.downloadAttachment' },
  { method: 'GET', path: '/api/attachments/:id/text', sdk: 'api.attachmentText' },
  { method: 'DELETE', path: '/api/attachments/:id', sdk: 'api.deleteAttachment' },
  { method: 'GET', path: '/api/push/vapid-public-key', sdk: 'api.vapidPublicKey' },
  { method: 'GET', path: '/api/push/subscriptions', sdk: 'api.listPushSubscriptions' },
  { method: 'POST', path: '/api/push/subscriptions', sdk: 'api.addPushSubscription' },
  { method: 'DELETE', path: '/api/push/subscriptions', sdk: 'api.deletePushSubscription' },
] as const;

/** One path segment, escaped. */
const seg = encodeURIComponent;

/** A query string from the fields that are set ('' when none is). */
function query(params: Record<string, string | number | boolean | undefined>): string {
  const pairs = Object.entries(params).flatMap(([key, value]) => (value === undefined ? [] : [`${seg(key)}=${seg(String(value))}`]));
  return pairs.length > 0 ? `?${pairs.join('&')}` : '';
}

/**
 * The REST routes as typed calls, with the contract's types in and out. These are plain requests:
 * they do not touch the client's local store (the server's socket events bring the changes there).
 * Every call sends the session's token (refreshed when close to expiry) and throws ConfabError.
 */
export class RestApi {
  constructor(private readonly rest: Rest) {}

  // ---- auth
  /** Trades a refresh token for a new pair, for tokens held outside this client (the client refreshes its own session itself). */
  refreshTokens(refreshToken: string): Promise<TokenPair> {
    return this.rest.request('POST', '/api/auth/refresh', { refreshToken }, { auth: false });
  }

  // ---- users
  /** Users whose handle or name matches `query` (all users for an empty query), at most `limit`. */
  searchUsers(q: UserSearchQueryInput = {}): Promise<UserList> {
    return this.rest.request('GET', `/api/users${query(q)}`);
  }
  /** What anyone may see of one user. */
  getUser(userId: string): Promise<PublicUser> {
    return this.rest.request('GET', `/api/users/${seg(userId)}`);
  }
  /** Changes the caller's profile (display name, avatar, public key). */
  updateMe(body: UpdateMeBody): Promise<Me> {
    return this.rest.request('PATCH', '/api/users/me', body);
  }
  /** The caller's settings document (the client's to shape). */
  getSettings<T extends Settings = Settings>(): Promise<T> {
    return this.rest.request('GET', '/api/users/me/settings');
  }
  /** Replaces the caller's settings document; resolves to what was stored. */
  putSettings<T extends Settings = Settings>(settings: T): Promise<T> {
    return this.rest.request('PUT', '/api/users/me/settings', settings);
  }
  /** The caller's notification level and preview choice. */
  getNotificationSettings(): Promise<NotificationSettings> {
    return this.rest.request('GET', '/api/users/me/notifications');
  }
  /** Changes the fields given of the caller's notification settings. */
  updateNotificationSettings(body: UpdateNotificationSettingsBody): Promise<NotificationSettings> {
    return this.rest.request('PUT', '/api/users/me/notifications', body);
  }

  // ---- the instance and its administration (instance admins)
  /** What a sign-in page needs: the instance's name, who may register, sign-in providers. No sign-in needed. */
  getInstance(): Promise<InstanceInfo> {
    return this.rest.request('GET', '/api/instance', undefined, { auth: false });
  }
  /** The instance's settings as in force (admins). */
  getAdminSettings(): Promise<AdminSettings> {
    return this.rest.request('GET', '/api/admin/settings');
  }
  /** Changes the fields given of the instance's settings (admins); resolves to the settings in force. */
  updateAdminSettings(body: PatchAdminSettingsBody): Promise<AdminSettings> {
    return this.rest.request('PATCH', '/api/admin/settings', body);
  }
  /** A conversation's own retention in days (null: the instance's), and the instance's (admins). */
  getConversationRetention(conversationId: string): Promise<ConversationRetentionAnswer> {
    return this.rest.request('GET', `/api/admin/conversations/${seg(conversationId)}/retention`);
  }
  /** Sets a conversation's own retention in days; null follows the instance's (admins). */
  setConversationRetention(conversationId: string, days: number | null): Promise<ConversationRetentionAnswer> {
    return this.rest.request('PUT', `/api/admin/conversations/${seg(conversationId)}/retention`, { days });
  }
  /** The audit log, newest first (admins). */
  listAudit(q: PageQueryInput = {}): Promise<AuditList> {
    return this.rest.request('GET', `/api/admin/audit${query(q)}`);
  }
  /** Creates an invite link (admins; an `admin` invite only by an owner); the token is in `token` and `url`. */
  createInvite(body: CreateInviteBody = {}): Promise<Invite> {
    return this.rest.request('POST', '/api/admin/invites', body);
  }
  /** Every invite not revoked, spent and expired ones too, newest first (admins). */
  listInvites(): Promise<InviteList> {
    return this.rest.request('GET', '/api/admin/invites');
  }
  /** Revokes an invite: its link stops working (admins). */
  async revokeInvite(inviteId: string): Promise<void> {
    await this.rest.request('DELETE', `/api/admin/invites/${seg(inviteId)}`);
  }
  /** Every account, bots and deactivated ones too, newest first, matching `query` (admins). */
  listAdminUsers(q: AdminUserQueryInput = {}): Promise<AdminUserList> {
    return this.rest.request('GET', `/api/admin/users${query(q)}`);
  }
  /** Changes an account's instance role (owners) or status (admins, for plain users); deactivating signs them out everywhere. */
  updateAdminUser(userId: string, body: PatchAdminUserBody): Promise<AdminUser> {
    return this.rest.request('PATCH', `/api/admin/users/${seg(userId)}`, body);
  }

  // ---- accounts (the caller's own)
  /** Changes the caller's password; every other session of theirs ends. A wrong current password: FORBIDDEN. */
  async changePassword(body: ChangePasswordBody): Promise<void> {
    await this.rest.request('POST', '/api/auth/password', body);
  }
  /** Sets a new password with the token of a reset link (no sign-in needed); every session of the account ends. */
  async resetPassword(body: PasswordResetBody): Promise<void> {
    await this.rest.request('POST', '/api/auth/password-reset', body, { auth: false });
  }
  /** Asks for a reset link by e-mail (where the server can send e-mail); succeeds whether or not the address is known. */
  async requestPasswordReset(email: string): Promise<void> {
    await this.rest.request('POST', '/api/auth/password-reset/request', { email }, { auth: false });
  }
  /** The caller's signed-in sessions; `current` marks this one. */
  listSessions(): Promise<SessionList> {
    return this.rest.request('GET', '/api/auth/sessions');
  }
  /** Signs one of the caller's sessions out (its sockets are disconnected). */
  async endSession(sessionId: string): Promise<void> {
    await this.rest.request('DELETE', `/api/auth/sessions/${seg(sessionId)}`);
  }
  /** Signs out every session of the caller but this one. */
  async endOtherSessions(): Promise<void> {
    await this.rest.request('DELETE', '/api/auth/sessions');
  }
  /** Deletes the caller's account, confirmed with their password: their messages are erased and their files deleted. */
  async deleteAccount(password: string): Promise<void> {
    await this.rest.request('DELETE', '/api/users/me', { password });
  }
  /** Everything of the caller's as one JSON document (profile, settings, conversations with their messages), as a download. */
  async exportData(): Promise<Blob> {
    const res = await this.rest.raw('GET', '/api/users/me/export');
    return res.blob();
  }
  /** A one-time link (24 h) for a user to choose a new password (instance admins). */
  createPasswordResetLink(userId: string): Promise<PasswordResetLink> {
    return this.rest.request('POST', `/api/admin/users/${seg(userId)}/password-reset`);
  }
  /** Deletes a user's account as their own deletion does (instance admins; owners only for owners). */
  async deleteUser(userId: string): Promise<void> {
    await this.rest.request('DELETE', `/api/admin/users/${seg(userId)}`);
  }

  // ---- second factor
  /**
   * Starts (or restarts, while not yet on) two-factor sign-in: a new secret and its otpauth:// URL
   * for an authenticator app (show it as a QR code). It counts once `enableTotp` confirms a code.
   */
  setupTotp(): Promise<TotpSetup> {
    return this.rest.request('POST', '/api/auth/totp/setup');
  }
  /** Turns two-factor sign-in on with a current code from the app; resolves to ten one-time recovery codes, shown only now. */
  enableTotp(code: string): Promise<RecoveryCodes> {
    return this.rest.request('POST', '/api/auth/totp/enable', { code });
  }
  /** Turns two-factor sign-in off (the password is needed); its recovery codes stop working. */
  async disableTotp(password: string): Promise<void> {
    await this.rest.request('DELETE', '/api/auth/totp', { password });
  }

  // ---- consent and privacy
  /** Blocks a user: they can no longer start a direct conversation with the caller, send into one, or add the caller to a group. Idempotent. */
  async blockUser(userId: string): Promise<void> {
    await this.rest.request('POST', `/api/users/${seg(userId)}/block`);
  }
  /** Lifts a block. Idempotent. */
  async unblockUser(userId: string): Promise<void> {
    await this.rest.request('DELETE', `/api/users/${seg(userId)}/block`);
  }
  /** The users the caller blocked, newest first. */
  listBlocks(): Promise<BlockList> {
    return this.rest.request('GET', '/api/users/me/blocks');
  }
  /** The caller's privacy settings. */
  getPrivacy(): Promise<Privacy> {
    return this.rest.request('GET', '/api/users/me/privacy');
  }
  /** Replaces the caller's privacy settings; resolves to what was stored. */
  putPrivacy(body: PutPrivacyBody): Promise<Privacy> {
    return this.rest.request('PUT', '/api/users/me/privacy', body);
  }
  /** Reports a message of a conversation the caller is in to the instance's admins (a repeat returns the open report). */
  reportMessage(messageId: string, reason: string): Promise<Report> {
    return this.rest.request('POST', `/api/messages/${seg(messageId)}/report`, { reason });
  }
  /** Reports, newest first, with the reported messages' content (admins). */
  listReports(q: ReportListQueryInput = {}): Promise<ReportList> {
    return this.rest.request('GET', `/api/admin/reports${query(q)}`);
  }
  /** Resolves or dismisses a report (admins). */
  closeReport(reportId: string, status: CloseReportBody['status']): Promise<Report> {
    return this.rest.request('PATCH', `/api/admin/reports/${seg(reportId)}`, { status });
  }

  // ---- platform (a developer's backend, with an API key)
  /** Creates an API key for a developer's backend (instance admins); `key` is shown this once. */
  createPlatformKey(body: CreatePlatformKeyBody): Promise<CreatedPlatformKey> {
    return this.rest.request('POST', '/api/admin/api-keys', body);
  }
  /** The API keys not revoked (instance admins); never the keys themselves. */
  listPlatformKeys(): Promise<PlatformKeyList> {
    return this.rest.request('GET', '/api/admin/api-keys');
  }
  /** Revokes an API key (instance admins): it stops working at once. */
  async revokePlatformKey(keyId: string): Promise<void> {
    await this.rest.request('DELETE', `/api/admin/api-keys/${seg(keyId)}`);
  }
  /** Creates or updates the user with the developer's own id (`apiKey` with the `users` scope). */
  putPlatformUser(apiKey: string, externalId: string, body: PutPlatformUserBody): Promise<PlatformUser> {
    return this.rest.request('PUT', `/api/platform/users/${seg(externalId)}`, body, { bearer: apiKey });
  }
  /** A new session's tokens for that user (`apiKey` with the `tokens` scope): hand them to your front end's `setSession`. */
  mintTokens(apiKey: string, body: MintTokensBody): Promise<TokenPair> {
    return this.rest.request('POST', '/api/platform/tokens', body, { bearer: apiKey });
  }
  /** Your own signed JWT for Confab tokens and the user (the server must be configured for it). */
  exchangeExternalToken(token: string): Promise<AuthResult> {
    return this.rest.request('POST', '/api/auth/external', { token }, { auth: false });
  }

  // ---- bots
  /** Creates a bot that belongs to the caller; its token (`cfb_…`) is in `token`, shown only this once. */
  createBot(body: CreateBotBody): Promise<BotWithToken> {
    return this.rest.request('POST', '/api/bots', body);
  }
  /** The caller's bots. */
  listBots(): Promise<BotList> {
    return this.rest.request('GET', '/api/bots');
  }
  /** A new token for the bot (its owner, or an instance admin); the old one stops working and its sockets are disconnected. */
  rotateBotToken(botId: string): Promise<BotWithToken> {
    return this.rest.request('POST', `/api/bots/${seg(botId)}/token`);
  }
  /** Deletes the bot (its owner, or an instance admin): its token stops working; its messages stay. */
  async deleteBot(botId: string): Promise<void> {
    await this.rest.request('DELETE', `/api/bots/${seg(botId)}`);
  }

  // ---- webhooks
  /** Creates an outgoing webhook (admins); the signing secret is in the answer this once. */
  createWebhook(body: CreateWebhookBody): Promise<CreatedWebhook> {
    return this.rest.request('POST', '/api/admin/webhooks', body);
  }
  /** Every outgoing webhook, newest first, with whether it is enabled and why not (admins). */
  listWebhooks(): Promise<WebhookList> {
    return this.rest.request('GET', '/api/admin/webhooks');
  }
  /** One outgoing webhook (admins). */
  getWebhook(webhookId: string): Promise<Webhook> {
    return this.rest.request('GET', `/api/admin/webhooks/${seg(webhookId)}`);
  }
  /** Changes its URL, events or `enabled` (enabling again clears its failure record) (admins). */
  updateWebhook(webhookId: string, body: UpdateWebhookBody): Promise<Webhook> {
    return this.rest.request('PATCH', `/api/admin/webhooks/${seg(webhookId)}`, body);
  }
  /** Deletes a webhook and its delivery log (admins). */
  async deleteWebhook(webhookId: string): Promise<void> {
    await this.rest.request('DELETE', `/api/admin/webhooks/${seg(webhookId)}`);
  }
  /** Its deliveries, newest first, each with its attempts (admins). */
  listWebhookDeliveries(webhookId: string, q: WebhookPageQuery = {}): Promise<WebhookDeliveryList> {
    return this.rest.request('GET', `/api/admin/webhooks/${seg(webhookId)}/deliveries${query(q)}`);
  }
  /** Sends a delivery again now, also a failed one (admins). */
  async retryWebhookDelivery(webhookId: string, deliveryId: string): Promise<void> {
    await this.rest.request('POST', `/api/admin/webhooks/${seg(webhookId)}/deliveries/${seg(deliveryId)}/retry`);
  }

  // ---- incoming hooks
  /** Creates an incoming webhook posting into a group conversation (its owners and admins); `url` is shown only now. */
  createIncomingHook(conversationId: string, name: string): Promise<CreatedIncomingHook> {
    return this.rest.request('POST', `/api/conversations/${seg(conversationId)}/hooks`, { name });
  }
  /** The conversation's incoming webhooks, without their URLs (owners and admins). */
  listIncomingHooks(conversationId: string): Promise<IncomingHookList> {
    return this.rest.request('GET', `/api/conversations/${seg(conversationId)}/hooks`);
  }
  /** Removes an incoming webhook: its URL stops working and its bot leaves the conversation. */
  async deleteIncomingHook(conversationId: string, hookId: string): Promise<void> {
    await this.rest.request('DELETE', `/api/conversations/${seg(conversationId)}/hooks/${seg(hookId)}`);
  }
  /** Posts as an incoming webhook (its id and token are the last parts of its URL; no other authentication is needed). */
  postToIncomingHook(hookId: string, token: string, content: string): Promise<HookMessage> {
    return this.rest.request('POST', `/api/hooks/${seg(hookId)}/${seg(token)}`, { content });
  }

  // ---- AI conversations: branches and shares (docs/ai.md)
  /**
   * A new assistant conversation of the caller holding copies of the messages up to and including
   * `messageId`. `client.branchConversation` calls this and adds the branch to the local store.
   */
  branchConversation(conversationId: string, messageId: string): Promise<Conversation> {
    return this.rest.request('POST', `/api/conversations/${seg(conversationId)}/branch`, { messageId });
  }
  /** Shares a read-only snapshot of the conversation as it is now (the owner; a group's owners and admins): `url` is its public page. */
  createShare(conversationId: string): Promise<ConversationShare> {
    return this.rest.request('POST', `/api/conversations/${seg(conversationId)}/shares`);
  }
  /** The conversation's shared snapshots, newest first (those who may share it). */
  listShares(conversationId: string): Promise<ConversationShareList> {
    return this.rest.request('GET', `/api/conversations/${seg(conversationId)}/shares`);
  }
  /** Removes a shared snapshot: its page answers 404 from now on. */
  async deleteShare(conversationId: string, shareId: string): Promise<void> {
    await this.rest.request('DELETE', `/api/conversations/${seg(conversationId)}/shares/${seg(shareId)}`);
  }
  /** A shared snapshot by the id at the end of its URL. No sign-in needed. */
  getShared(shareId: string): Promise<SharedSnapshot> {
    return this.rest.request('GET', `/api/shared/${seg(shareId)}`, undefined, { auth: false });
  }

  // ---- single sign-on
  /**
   * Where a browser goes to sign in with a provider of `GET /api/instance`'s `sso` (a navigation,
   * not a request: it ends at the web app's /sso?code=… or /sso?error=…). `invite`: an invite
   * link's token, while registration is by invite.
   */
  ssoStartUrl(providerId: string, invite?: string): string {
    return this.rest.url(`/api/auth/oidc/${seg(providerId)}/start${query({ invite })}`);
  }
  /** The redirect URI to register with the provider (the provider sends the browser there). */
  ssoCallbackUrl(providerId: string): string {
    return this.rest.url(`/api/auth/oidc/${seg(providerId)}/callback`);
  }
  /** Trades the one-time code of /sso?code=… (once, within a minute) for a session; `client.setSession(result)` then signs in. */
  exchangeSsoCode(code: string): Promise<SsoAuthResult> {
    return this.rest.request('POST', '/api/auth/oidc/exchange', { code }, { auth: false });
  }
  /** The providers the caller signs in with. */
  listLinkedSignIns(): Promise<LinkedSignIns> {
    return this.rest.request('GET', '/api/users/me/sso');
  }
  /** Stops signing in with a provider (CONFLICT while it is the caller's only way in). */
  async unlinkSignIn(providerId: string): Promise<void> {
    await this.rest.request('DELETE', `/api/users/me/sso/${seg(providerId)}`);
  }

  // ---- AI
  /** The models the caller may use, with whose key pays, and the server's default. */
  listModels(): Promise<ModelList> {
    return this.rest.request('GET', '/api/models');
  }
  /** The providers the caller stored a key for (keys themselves are never returned). */
  listApiKeys(): Promise<ApiKeyList> {
    return this.rest.request('GET', '/api/users/me/keys');
  }
  /** Stores (or replaces) the caller's own key for a provider. */
  async putApiKey(provider: AiProvider, apiKey: string): Promise<void> {
    await this.rest.request('PUT', `/api/users/me/keys/${seg(provider)}`, { apiKey });
  }
  /** Deletes the caller's key for a provider. */
  async deleteApiKey(provider: AiProvider): Promise<void> {
    await this.rest.request('DELETE', `/api/users/me/keys/${seg(provider)}`);
  }
  /** The caller's use of the server's AI keys per UTC day (the last `days`, oldest first), and what is left today. */
  getUsage(q: { days?: number } = {}): Promise<Usage> {
    return this.rest.request('GET', `/api/users/me/usage${query(q)}`);
  }
  /** Everyone's use of the server's AI keys per UTC day (admins). */
  getAdminUsage(q: { days?: number } = {}): Promise<AdminUsage> {
    return this.rest.request('GET', `/api/admin/usage${query(q)}`);
  }

  // ---- conversations
  /** One page of the caller's conversations, most recent first; pass `nextCursor` back as `cursor`. */
  listConversations(q: ConversationListQueryInput = {}): Promise<ConversationList> {
    return this.rest.request('GET', `/api/conversations${query(q)}`);
  }
  /** One conversation as the caller sees it. */
  getConversation(conversationId: string): Promise<Conversation> {
    return this.rest.request('GET', `/api/conversations/${seg(conversationId)}`);
  }
  /** The direct conversation with a user, created if there is none (prefer `client.createDirect`). */
  createDirect(userId: string): Promise<Conversation> {
    return this.rest.request('POST', '/api/conversations/direct', { userId });
  }
  /** A new group (prefer `client.createGroup`, which also adds it to the local store). */
  createGroup(body: CreateGroupBodyInput): Promise<Conversation> {
    return this.rest.request('POST', '/api/conversations/group', body);
  }
  /** A new conversation with the assistant (prefer `client.createAssistant`). */
  createAssistant(body: CreateAssistantBody = {}): Promise<Conversation> {
    return this.rest.request('POST', '/api/conversations/assistant', body);
  }
  /** Changes the title (admins) or the caller's own state: pinned, muted, archived, draft, project. */
  updateConversation(conversationId: string, body: UpdateConversationBody): Promise<Conversation> {
    return this.rest.request('PATCH', `/api/conversations/${seg(conversationId)}`, body);
  }
  /** Deletes a conversation for everyone when the caller owns it; anyone else leaves it. */
  async deleteConversation(conversationId: string): Promise<void> {
    await this.rest.request('DELETE', `/api/conversations/${seg(conversationId)}`);
  }
  /** Adds users to a group. */
  addParticipants(conversationId: string, body: AddParticipantsBody): Promise<Conversation> {
    return this.rest.request('POST', `/api/conversations/${seg(conversationId)}/participants`, body);
  }
  /** Changes a member's role. */
  changeRole(conversationId: string, userId: string, role: Role): Promise<Conversation> {
    return this.rest.request('PATCH', `/api/conversations/${seg(conversationId)}/participants/${seg(userId)}`, { role });
  }
  /** Removes a member (or, with the caller's own id, leaves). */
  async removeParticipant(conversationId: string, userId: string): Promise<void> {
    await this.rest.request('DELETE', `/api/conversations/${seg(conversationId)}/participants/${seg(userId)}`);
  }

  // ---- projects
  /** The caller's projects (folders for conversations). */
  listProjects(): Promise<ProjectList> {
    return this.rest.request('GET', '/api/projects');
  }
  /** A new project. */
  createProject(name: string): Promise<Project> {
    return this.rest.request('POST', '/api/projects', { name });
  }
  /** Renames a project. */
  renameProject(projectId: string, name: string): Promise<Project> {
    return this.rest.request('PATCH', `/api/projects/${seg(projectId)}`, { name });
  }
  /** Deletes a project; its conversations stay, outside any project. */
  async deleteProject(projectId: string): Promise<void> {
    await this.rest.request('DELETE', `/api/projects/${seg(projectId)}`);
  }

  // ---- messages
  /** One page of a conversation's messages, oldest first: the latest, or those `before`/`after` a seq. */
  listMessages(conversationId: string, q: MessageListQueryInput = {}): Promise<MessageList> {
    return this.rest.request('GET', `/api/conversations/${seg(conversationId)}/messages${query(q)}`);
  }
  /** Sends a message once (a repeated `clientId` returns the first); `client.send` adds an outbox and retries. */
  sendMessage(body: SendMessageBody): Promise<Message> {
    return this.rest.request('POST', '/api/messages', body);
  }
  /** Edits a message's content (its author). */
  editMessage(messageId: string, content: string): Promise<Message> {
    return this.rest.request('PATCH', `/api/messages/${seg(messageId)}`, { content });
  }
  /**
   * A message's versions (edits, regenerated answers) with when each was written and, for answers,
   * its model: oldest first, the current one last. Members only.
   */
  listMessageVersions(messageId: string): Promise<MessageVersionList> {
    return this.rest.request('GET', `/api/messages/${seg(messageId)}/versions`);
  }
  /** Deletes a message, leaving a tombstone. */
  deleteMessage(messageId: string): Promise<Message> {
    return this.rest.request('DELETE', `/api/messages/${seg(messageId)}`);
  }
  /** Moves the caller's delivered or read receipt up to this message. */
  markMessage(messageId: string, status: MessageStatusBody['status']): Promise<MessageStatusResult> {
    return this.rest.request('POST', `/api/messages/${seg(messageId)}/status`, { status });
  }
  /** Adds the caller's reaction. */
  addReaction(messageId: string, emoji: string): Promise<Message> {
    return this.rest.request('POST', `/api/messages/${seg(messageId)}/reactions`, { emoji });
  }
  /** Takes the caller's reaction back. */
  removeReaction(messageId: string, emoji: string): Promise<Message> {
    return this.rest.request('DELETE', `/api/messages/${seg(messageId)}/reactions/${seg(emoji)}`);
  }
  /** Follows (or stops following) the thread of a message (threads). */
  followThread(messageId: string, following: boolean): Promise<ThreadFollow> {
    return this.rest.request('PUT', `/api/messages/${seg(messageId)}/follow`, { following });
  }
  /** The caller's followed threads, the latest reply first, with their unread replies. */
  listThreads(q: ThreadListQueryInput = {}): Promise<ThreadList> {
    return this.rest.request('GET', `/api/threads${query(q)}`);
  }
  /** Removes a message's link preview (its sender only); it is not fetched again. `client.removePreview` also updates the store. */
  removeLinkPreview(messageId: string): Promise<Message> {
    return this.rest.request('DELETE', `/api/messages/${seg(messageId)}/preview`);
  }
  /**
   * A link preview's image, as the server re-encoded it, for members of the conversation. Takes
   * the message's `linkPreview.imageUrl` (a path on this server) or the message id; anything
   * else (a URL of another site) is refused, so this never sends the session's token elsewhere.
   */
  async downloadPreviewImage(imageUrlOrMessageId: string): Promise<Blob> {
    const path = imageUrlOrMessageId.includes('/') ? imageUrlOrMessageId : `/api/messages/${seg(imageUrlOrMessageId)}/preview/image`;
    if (!/^\/api\/messages\/[^/?#]+\/preview\/image(\?v=[\w-]+)?$/.test(path)) throw new ConfabError('VALIDATION_ERROR', 'not a preview image of this server');
    const res = await this.rest.raw('GET', path);
    return res.blob();
  }
  /** Messages and conversations matching `query`, in the caller's conversations (or one of them). */
  search(q: SearchQueryInput): Promise<SearchResult> {
    return this.rest.request('GET', `/api/search${query(q)}`);
  }
  /** Messages that mention the caller, newest first (`nextCursor` for the next page). */
  listMentions(q: MentionListQueryInput = {}): Promise<MentionList> {
    return this.rest.request('GET', `/api/mentions${query(q)}`);
  }

  // ---- channels and pins
  /** Public channels by title, with member counts and whether the caller is in each; `query` matches titles and topics. */
  listChannels(q: ChannelListQueryInput = {}): Promise<ChannelList> {
    return this.rest.request('GET', `/api/channels${query(q)}`);
  }
  /** One public channel's summary (what a non-member may see); NOT_FOUND for anything else. */
  getChannel(conversationId: string): Promise<Channel> {
    return this.rest.request('GET', `/api/channels/${seg(conversationId)}`);
  }
  /** Joins a public channel (prefer `client.joinChannel`, which also adds it to the local store). */
  joinChannel(conversationId: string): Promise<Conversation> {
    return this.rest.request('POST', `/api/channels/${seg(conversationId)}/join`);
  }
  /** A conversation's pinned messages, most recently pinned first. */
  listPins(conversationId: string): Promise<PinList> {
    return this.rest.request('GET', `/api/conversations/${seg(conversationId)}/pins`);
  }
  /** Pins a message (prefer `client.pin`). */
  pinMessage(messageId: string): Promise<Message> {
    return this.rest.request('POST', `/api/messages/${seg(messageId)}/pin`);
  }
  /** Unpins a message (prefer `client.pin(id, false)`). */
  unpinMessage(messageId: string): Promise<Message> {
    return this.rest.request('DELETE', `/api/messages/${seg(messageId)}/pin`);
  }

  // ---- attachments
  /** An upload ticket for a file the caller will attach to a message in `conversationId`. */
  createAttachment(body: CreateAttachmentBody): Promise<AttachmentTicket> {
    return this.rest.request('POST', '/api/attachments', body);
  }
  /** Uploads the bytes for a ticket; resolves to the stored attachment (its type sniffed by the server). */
  async uploadAttachment(ticket: Pick<AttachmentTicket, 'uploadUrl'>, data: BodyInit, type: string): Promise<Attachment> {
    if (!ticket.uploadUrl.startsWith('/')) throw new ConfabError('VALIDATION_ERROR', 'an upload URL is a path on this server');
    const res = await this.rest.raw('PUT', ticket.uploadUrl, { data, type });
    return (await res.json()) as Attachment;
  }
  /** An attachment's bytes, or its preview's (images), for members of its conversation. */
  async downloadAttachment(attachmentId: string, variant: 'original' | 'preview' = 'original'): Promise<Blob> {
    const res = await this.rest.raw('GET', `/api/attachments/${seg(attachmentId)}${variant === 'preview' ? '/preview' : ''}`);
    return res.blob();
  }
  /** The beginning of a text or PDF attachment's extracted text (members only), for a preview. */
  attachmentText(attachmentId: string): Promise<AttachmentText> {
    return this.rest.request('GET', `/api/attachments/${seg(attachmentId)}/text`);
  }
  /** Deletes an attachment (the server decides who may). */
  async deleteAttachment(attachmentId: string): Promise<void> {
    await this.rest.request('DELETE', `/api/attachments/${seg(attachmentId)}`);
  }

  // ---- push notifications
  /** The server's VAPID key, for `PushManager.subscribe`. */
  vapidPublicKey(): Promise<VapidPublicKey> {
    return this.rest.request('GET', '/api/push/vapid-public-key');
  }
  /** The caller's push subscriptions. */
  listPushSubscriptions(): Promise<PushSubscriptionList> {
    return this.rest.request('GET', '/api/push/subscriptions');
  }
  /** Registers a browser's push subscription (what `PushSubscription.toJSON()` gives). */
  addPushSubscription(body: PushSubscriptionBody): Promise<PushSubscriptionInfo> {
    return this.rest.request('POST', '/api/push/subscriptions', body);
  }
  /** Forgets a push subscription by its endpoint. */
  async deletePushSubscription(endpoint: string): Promise<void> {
    await this.rest.request('DELETE', '/api/push/subscriptions', { endpoint });
  }
}
