import { ConfabError, type AiProvider, type Message, type ModelList } from '@confab/protocol';
import type { ImageModel } from 'ai';
import { ASSISTANT_ID } from '../ai/assistant.ts';
import { DEFAULT_MODEL, imageModelFor, modelAccess, modelFor, PROVIDER_NAMES, serverDefaultModel, type AnswerModel, type ModelAccess } from '../ai/models.ts';
import type { Context } from '../context.ts';
import { deleteUserKey, findUserKeys, listUserKeyProviders, upsertUserKey } from '../storage/apiKeys.ts';
import { findAnswerAfter, findVisibleMessage } from '../storage/answers.ts';
import { findMembership } from '../storage/members.ts';
import type { MessageRow } from '../storage/rows.ts';
import { instanceSettings } from './instance.ts';
import { iso } from './users.ts';

// AI as ordinary operations: which models a user may use (and with whose key), users' own keys,
// and stop / regenerate from a client. Access rules live here; the answers themselves are the
// assistant's (assistant/), reached through ctx.answers.

// ---- models: who may use which, paid with whose key ----

/** The models `userId` may use, with their own keys (decrypted, never sent to clients). */
async function accessOf(ctx: Context, userId: string): Promise<ModelAccess> {
  const rows = await findUserKeys(ctx.db, userId);
  // The admins' allow-list narrows what everyone is offered, users' own keys included.
  const { ai } = await instanceSettings(ctx);
  return modelAccess(ctx.config.ai, new Map(rows.map((r) => [r.provider, ctx.keys.decrypt(r.key_enc)])), ai);
}

export async function listModels(ctx: Context, userId: string): Promise<ModelList> {
  const { models, defaultModel } = await accessOf(ctx, userId);
  return { models, defaultModel };
}

/** A conversation may only be created with (or switched to) a model the caller is offered. */
export async function requireListedModel(ctx: Context, userId: string, modelId: string): Promise<void> {
  const { models } = await accessOf(ctx, userId);
  if (!models.some((m) => m.id === modelId)) {
    throw new ConfabError('VALIDATION_ERROR', `model: "${modelId.slice(0, 200)}" is not one of the models GET /api/models lists for you`);
  }
}

/** The model an answer uses: the conversation's, or for one that names none the payer's default. */
export async function answerModelId(ctx: Context, payerId: string, stored: string | null): Promise<string> {
  if (stored && stored !== DEFAULT_MODEL) return stored;
  const { defaultModel } = await accessOf(ctx, payerId);
  // Nothing usable: the server's default, so the answer's error names the provider that lacks a key.
  return defaultModel ?? serverDefaultModel(ctx.config.ai) ?? 'openai:gpt-4o-mini';
}

/**
 * The language model to call for `modelId` on behalf of `payerId`, checked against the models that
 * user is offered right now (see modelFor in ai/models.ts). `unlisted` is for the server's own
 * choices (the title model), which need only a key.
 */
export async function resolveModel(ctx: Context, payerId: string, modelId: string, options: { unlisted?: boolean } = {}): Promise<AnswerModel> {
  return modelFor(ctx.config.ai, await accessOf(ctx, payerId), modelId, options);
}

/** The image model (CONFAB_IMAGE_MODEL) as `payerId` would pay for it; undefined when none is configured or nobody can pay. */
export async function resolveImageModel(ctx: Context, payerId: string): Promise<ImageModel | undefined> {
  const id = ctx.config.ai.tools?.imageModel;
  return id ? imageModelFor(ctx.config.ai, await accessOf(ctx, payerId), id) : undefined;
}

// ---- users' own keys (BYOK) ----

export async function putApiKey(ctx: Context, userId: string, provider: AiProvider, apiKey: string): Promise<void> {
  await upsertUserKey(ctx.db, userId, provider, ctx.keys.encrypt(apiKey));
}

export async function deleteApiKey(ctx: Context, userId: string, provider: AiProvider): Promise<void> {
  if (!(await deleteUserKey(ctx.db, userId, provider))) throw new ConfabError('NOT_FOUND', `no ${PROVIDER_NAMES[provider]} key is stored`);
}

export async function listApiKeys(ctx: Context, userId: string) {
  const rows = await listUserKeyProviders(ctx.db, userId);
  return { providers: rows.map((r) => ({ provider: r.provider, createdAt: iso(r.created_at)! })) };
}

// ---- stop and regenerate, from any member's socket on any node ----

/** The assistant acts only where it is a member (never in a direct conversation, nor in a group that removed it). */
export async function assistantIsMember(ctx: Context, conversationId: string): Promise<boolean> {
  return (await findMembership(ctx.db, conversationId, ASSISTANT_ID)) !== undefined;
}

/** Stops an answer from any member's socket, on any node. Stopping a finished answer does nothing. */
export async function stopAnswer(ctx: Context, userId: string, messageId: string): Promise<void> {
  const row = await visibleAnswer(ctx, userId, messageId);
  if (row.status !== 'streaming') return;
  await ctx.answers.stop(row);
}

/**
 * Regenerates an answer as a new version (the previous text is kept in message_versions), or,
 * given a user message, the answer that follows it (edit-and-resend: edit the message, then
 * regenerate from it). Answers the acking client with the message in its new `streaming` state.
 */
export async function regenerateAnswer(ctx: Context, userId: string, messageId: string): Promise<Message> {
  const target = await visibleAnswer(ctx, userId, messageId, false);
  // The one who asks to regenerate pays.
  if (!(await assistantIsMember(ctx, target.conversation_id))) throw new ConfabError('FORBIDDEN', 'the assistant is not a member of this conversation');
  const answer = target.author_id === ASSISTANT_ID ? target : await findAnswerAfter(ctx.db, target.conversation_id, ASSISTANT_ID, target.seq);
  return ctx.answers.regenerate(userId, target.conversation_id, answer);
}

async function visibleAnswer(ctx: Context, userId: string, messageId: string, mustBeAnswer = true): Promise<MessageRow> {
  const row = await findVisibleMessage(ctx.db, messageId, userId);
  if (!row) throw new ConfabError('NOT_FOUND', 'no such message');
  if (mustBeAnswer && row.author_id !== ASSISTANT_ID) throw new ConfabError('VALIDATION_ERROR', 'this message is not an AI answer');
  if (row.kind === 'system') throw new ConfabError('VALIDATION_ERROR', 'system messages cannot be answered');
  return row;
}
