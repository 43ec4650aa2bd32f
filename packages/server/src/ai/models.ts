import { AiProvider, ConfabError, type ModelInfo, type ModelList } from '@confab/protocol';
import type { LanguageModel } from 'ai';
import type { Context } from '../context.ts';
import { iso } from '../operations/users.ts';

/** Offered when CONFAB_MODELS is not set: a fast and a strong model per provider. */
const BUILT_IN_MODELS: Record<AiProvider, string[]> = {
  openai: ['gpt-4o-mini', 'gpt-4.1'],
  anthropic: ['claude-haiku-4-5', 'claude-sonnet-4-5'],
  google: ['gemini-2.5-flash', 'gemini-2.5-pro'],
};
const PROVIDER_NAMES: Record<AiProvider, string> = { openai: 'OpenAI', anthropic: 'Anthropic', google: 'Google' };

/** An AI failure whose message is meant for the people in the conversation. */
export class AiFailure extends Error {}

export function parseModelId(id: string): { provider: AiProvider; name: string } {
  const at = id.indexOf(':');
  const provider = AiProvider.safeParse(id.slice(0, at));
  if (at < 1 || !provider.success || at === id.length - 1) throw new AiFailure(`"${id}" is not a model this server knows (expected provider:model).`);
  return { provider: provider.data, name: id.slice(at + 1) };
}

function catalog(ctx: Context): string[] {
  if (ctx.config.ai.models.length) return ctx.config.ai.models;
  return AiProvider.options.flatMap((p) => BUILT_IN_MODELS[p].map((m) => `${p}:${m}`));
}

/** The server can pay for a provider with its own key, or (OpenAI) through a configured keyless endpoint such as Ollama. */
function serverCanUse(ctx: Context, provider: AiProvider): boolean {
  return Boolean(ctx.config.ai.keys[provider] || (provider === 'openai' && ctx.config.ai.openaiBaseUrl));
}

async function userKeys(ctx: Context, userId: string): Promise<Map<AiProvider, string>> {
  const rows = await ctx.db.query<{ provider: AiProvider; key_enc: string }>('SELECT provider, key_enc FROM user_api_keys WHERE user_id = $1', [userId]);
  return new Map(rows.map((r) => [r.provider, ctx.keys.decrypt(r.key_enc)]));
}

/** What one user may use: the models, each with who pays, and their own keys (never sent to clients). */
interface ModelAccess {
  models: ModelInfo[];
  defaultModel: string | null;
  own: Map<AiProvider, string>;
}

/**
 * Which models `userId` may use, and with which key: their own when they stored one for the
 * provider (BYOK, preferred), else the server's. The one answer to "may this user use this model",
 * used by `GET /api/models`, when a conversation is created and again when an answer starts, so a
 * client can never name a model the server would not list (the admin allow-list and quotas narrow
 * this same list).
 */
async function modelAccess(ctx: Context, userId: string): Promise<ModelAccess> {
  const own = await userKeys(ctx, userId);
  const models: ModelInfo[] = [];
  for (const id of catalog(ctx)) {
    let parsed;
    try {
      parsed = parseModelId(id);
    } catch {
      continue;
    }
    const keySource = own.has(parsed.provider) ? 'user' : serverCanUse(ctx, parsed.provider) ? 'server' : undefined;
    if (keySource) models.push({ id, provider: parsed.provider, name: parsed.name, keySource });
  }
  const configured = ctx.config.ai.defaultModel;
  const defaultModel = configured && models.some((m) => m.id === configured) ? configured : (models[0]?.id ?? null);
  return { models, defaultModel, own };
}

export async function listModels(ctx: Context, userId: string): Promise<ModelList> {
  const { models, defaultModel } = await modelAccess(ctx, userId);
  return { models, defaultModel };
}

/** The stored value of a conversation that names no model: the model is chosen when each answer starts. */
export const DEFAULT_MODEL = 'default';

/** A conversation may only be created with (or switched to) a model the caller is offered. */
export async function requireListedModel(ctx: Context, userId: string, modelId: string): Promise<void> {
  const { models } = await modelAccess(ctx, userId);
  if (!models.some((m) => m.id === modelId)) {
    throw new ConfabError('VALIDATION_ERROR', `model: "${modelId.slice(0, 200)}" is not one of the models GET /api/models lists for you`);
  }
}

/** The model an answer uses: the conversation's, or for one that names none the payer's default. */
export async function answerModelId(ctx: Context, payerId: string, stored: string | null): Promise<string> {
  if (stored && stored !== DEFAULT_MODEL) return stored;
  const { defaultModel } = await modelAccess(ctx, payerId);
  // Nothing usable: the server's default, so the answer's error names the provider that lacks a key.
  return defaultModel ?? serverDefaultModel(ctx) ?? 'openai:gpt-4o-mini';
}

/** The model a conversation without its own uses: CONFAB_DEFAULT_MODEL, else the first offered. */
export function serverDefaultModel(ctx: Context): string | undefined {
  return ctx.config.ai.defaultModel ?? catalog(ctx).find((id) => serverCanUse(ctx, parseModelId(id).provider)) ?? catalog(ctx)[0];
}

export interface AnswerModel {
  model: LanguageModel;
  /** Who pays: the quota of a later issue counts only answers paid with the server's keys. */
  keySource: 'user' | 'server';
}

/**
 * The language model to call for `modelId` on behalf of `payerId`, checked against the models that
 * user is offered right now (a key removed or a model dropped from the server's list since the
 * conversation was created ends the answer here, before any request to a provider). Throws
 * AiFailure with advice a person can act on. `unlisted` is for the server's own choices (the
 * title model), which need only a key.
 */
export async function resolveModel(ctx: Context, payerId: string, modelId: string, options: { unlisted?: boolean } = {}): Promise<AnswerModel> {
  const { provider, name } = parseModelId(modelId);
  const access = await modelAccess(ctx, payerId);
  const own = access.own.get(provider);
  if (!own && !serverCanUse(ctx, provider)) {
    throw new AiFailure(`No API key is set up for ${PROVIDER_NAMES[provider]}. Add your own key in Settings → AI, or ask your admin to configure one.`);
  }
  if (!options.unlisted && !access.models.some((m) => m.id === modelId)) {
    throw new AiFailure(`The model "${modelId.slice(0, 200)}" is not offered on this server any more. Start a conversation with one of the models offered.`);
  }
  return { model: await languageModel(ctx, provider, name, own), keySource: own ? 'user' : 'server' };
}

/** Providers load on first use (see sdk.ts). */
async function languageModel(ctx: Context, provider: AiProvider, name: string, own: string | undefined): Promise<LanguageModel> {
  const ai = ctx.config.ai;
  switch (provider) {
    case 'openai': {
      // Users' own keys go to OpenAI (or CONFAB_BYOK_OPENAI_BASE_URL), never to the server's custom endpoint.
      const settings = own
        ? { apiKey: own, ...(ai.byokOpenaiBaseUrl ? { baseURL: ai.byokOpenaiBaseUrl } : {}) }
        : { apiKey: ai.keys.openai ?? 'not-needed', ...(ai.openaiBaseUrl ? { baseURL: ai.openaiBaseUrl } : {}) };
      // Chat Completions is what every OpenAI-compatible server (Ollama, vLLM, OpenRouter) speaks.
      const { createOpenAI } = await import('@ai-sdk/openai');
      return createOpenAI(settings).chat(name);
    }
    case 'anthropic': {
      const { createAnthropic } = await import('@ai-sdk/anthropic');
      return createAnthropic({ apiKey: own ?? ai.keys.anthropic! })(name);
    }
    case 'google': {
      const { createGoogleGenerativeAI } = await import('@ai-sdk/google');
      return createGoogleGenerativeAI({ apiKey: own ?? ai.keys.google! })(name);
    }
  }
}

// ---- users' own keys (BYOK) ----

export async function putApiKey(ctx: Context, userId: string, provider: AiProvider, apiKey: string): Promise<void> {
  await ctx.db.query(
    `INSERT INTO user_api_keys (user_id, provider, key_enc) VALUES ($1, $2, $3)
     ON CONFLICT (user_id, provider) DO UPDATE SET key_enc = EXCLUDED.key_enc, created_at = now()`,
    [userId, provider, ctx.keys.encrypt(apiKey)],
  );
}

export async function deleteApiKey(ctx: Context, userId: string, provider: AiProvider): Promise<void> {
  const rows = await ctx.db.query('DELETE FROM user_api_keys WHERE user_id = $1 AND provider = $2 RETURNING 1', [userId, provider]);
  if (rows.length === 0) throw new ConfabError('NOT_FOUND', `no ${PROVIDER_NAMES[provider]} key is stored`);
}

export async function listApiKeys(ctx: Context, userId: string) {
  const rows = await ctx.db.query<{ provider: AiProvider; created_at: Date }>('SELECT provider, created_at FROM user_api_keys WHERE user_id = $1 ORDER BY provider', [userId]);
  return { providers: rows.map((r) => ({ provider: r.provider, createdAt: iso(r.created_at)! })) };
}
