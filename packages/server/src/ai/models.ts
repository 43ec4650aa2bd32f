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

export async function listModels(ctx: Context, userId: string): Promise<ModelList> {
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
  return { models, defaultModel };
}

/** The model a conversation without its own uses: CONFAB_DEFAULT_MODEL, else the first offered. */
export function serverDefaultModel(ctx: Context): string | undefined {
  return ctx.config.ai.defaultModel ?? catalog(ctx).find((id) => serverCanUse(ctx, parseModelId(id).provider)) ?? catalog(ctx)[0];
}

/**
 * The language model to call for `modelId` on behalf of `userId`: their own key when they stored
 * one (BYOK, preferred), else the server's. Throws AiFailure with advice a person can act on.
 * Providers load on first use (see sdk.ts).
 */
export async function resolveModel(ctx: Context, userId: string, modelId: string): Promise<LanguageModel> {
  const { provider, name } = parseModelId(modelId);
  const own = (await userKeys(ctx, userId)).get(provider);
  const ai = ctx.config.ai;
  if (!own && !serverCanUse(ctx, provider)) {
    throw new AiFailure(`No API key is set up for ${PROVIDER_NAMES[provider]}. Add your own key in Settings → AI, or ask your admin to configure one.`);
  }
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
