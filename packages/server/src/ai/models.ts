import { AiProvider, type ModelCapabilities, type ModelInfo } from '@confab/protocol';
import type { ImageModel, LanguageModel } from 'ai';
import type { AiConfig } from '../config.ts';

// The model catalog: which models the server offers, who can pay for each, and the provider
// client for one. Nothing here reads the database: a user's own keys are passed in (operations/ai.ts
// loads them), so this folder stays below operations/.

/** Offered when CONFAB_MODELS is not set: a fast and a strong model per provider. */
const BUILT_IN_MODELS: Record<AiProvider, string[]> = {
  openai: ['gpt-4o-mini', 'gpt-4.1'],
  anthropic: ['claude-haiku-4-5', 'claude-sonnet-4-5'],
  google: ['gemini-2.5-flash', 'gemini-2.5-pro'],
};
/**
 * Models known to take images, by name. Every Claude from 3 on and every Gemini does; of OpenAI's,
 * GPT-4o, GPT-4.1, GPT-4.5, GPT-4 Turbo, GPT-5, o1, o3 and o4-mini (not o1-mini, o3-mini nor
 * GPT-3.5). Anything else (an Ollama or vLLM model behind OPENAI_BASE_URL) is taken not to, unless
 * CONFAB_VISION_MODELS names it: sending images to a text-only model fails the whole request.
 */
const KNOWN_VISION: Record<AiProvider, RegExp> = {
  openai: /^(chatgpt-4o|gpt-4o|gpt-4\.1|gpt-4\.5|gpt-4-turbo|gpt-5|o1(?!-mini|-preview)|o3(?!-mini)|o4-mini)/,
  anthropic: /^claude-(3|haiku|sonnet|opus)/,
  google: /^gemini-/,
};

/** What a model can take besides text: see KNOWN_VISION and CONFAB_VISION_MODELS (`provider:prefix*` matches a prefix). */
export function modelCapabilities(ai: Pick<AiConfig, 'visionModels'>, modelId: string): ModelCapabilities {
  const listed = ai.visionModels.some((entry) => (entry.endsWith('*') ? modelId.startsWith(entry.slice(0, -1)) : modelId === entry));
  if (listed) return { vision: true };
  const at = modelId.indexOf(':');
  const provider = AiProvider.safeParse(modelId.slice(0, at));
  return { vision: at > 0 && provider.success && KNOWN_VISION[provider.data].test(modelId.slice(at + 1)) };
}

export const PROVIDER_NAMES: Record<AiProvider, string> = { openai: 'OpenAI', anthropic: 'Anthropic', google: 'Google' };

/** An AI failure whose message is meant for the people in the conversation. */
export class AiFailure extends Error {}

export function parseModelId(id: string): { provider: AiProvider; name: string } {
  const at = id.indexOf(':');
  const provider = AiProvider.safeParse(id.slice(0, at));
  if (at < 1 || !provider.success || at === id.length - 1) throw new AiFailure(`"${id}" is not a model this server knows (expected provider:model).`);
  return { provider: provider.data, name: id.slice(at + 1) };
}

/** Every model the configuration offers (CONFAB_MODELS, else the built-in list): what an admin allow-list may name. */
export function catalog(ai: AiConfig): string[] {
  if (ai.models.length) return ai.models;
  return AiProvider.options.flatMap((p) => BUILT_IN_MODELS[p].map((m) => `${p}:${m}`));
}

/** The server can pay for a provider with its own key, or (OpenAI) through a configured keyless endpoint such as Ollama. */
function serverCanUse(ai: AiConfig, provider: AiProvider): boolean {
  return Boolean(ai.keys[provider] || (provider === 'openai' && ai.openaiBaseUrl));
}

/** The instance's AI settings (operations/instance.ts): the models offered to everyone, and the default. */
export interface AllowList {
  models: string[];
  defaultModel: string | null | undefined;
}

/** What one user may use: the models, each with who pays, and their own keys (never sent to clients). */
export interface ModelAccess {
  models: ModelInfo[];
  defaultModel: string | null;
  own: Map<AiProvider, string>;
}

/**
 * Which models a user whose own keys are `own` may use, and with which key: their own when they
 * stored one for the provider (BYOK, preferred), else the server's. Only models on the admins'
 * allow-list (`allowed`) are offered, own key or not. The one answer to "may this
 * user use this model", used by `GET /api/models`, when a conversation is created and again when an
 * answer starts, so a client can never name a model the server would not list (the admin
 * allow-list and quotas narrow this same list).
 */
export function modelAccess(ai: AiConfig, own: Map<AiProvider, string>, allowed?: AllowList): ModelAccess {
  const models: ModelInfo[] = [];
  const available = new Set(catalog(ai));
  // The admins' allow-list, in their order, of what the configuration still offers.
  const offered = allowed ? allowed.models.filter((id) => available.has(id)) : [...available];
  for (const id of offered) {
    let parsed;
    try {
      parsed = parseModelId(id);
    } catch {
      continue;
    }
    const keySource = own.has(parsed.provider) ? 'user' : serverCanUse(ai, parsed.provider) ? 'server' : undefined;
    if (keySource) models.push({ id, provider: parsed.provider, name: parsed.name, keySource, capabilities: modelCapabilities(ai, id) });
  }
  const configured = allowed ? allowed.defaultModel : ai.defaultModel;
  const defaultModel = configured && models.some((m) => m.id === configured) ? configured : (models[0]?.id ?? null);
  return { models, defaultModel, own };
}

/** The stored value of a conversation that names no model: the model is chosen when each answer starts. */
export const DEFAULT_MODEL = 'default';

/** The model a conversation without its own uses: CONFAB_DEFAULT_MODEL, else the first offered. */
export function serverDefaultModel(ai: AiConfig): string | undefined {
  return ai.defaultModel ?? catalog(ai).find((id) => serverCanUse(ai, parseModelId(id).provider)) ?? catalog(ai)[0];
}

export interface AnswerModel {
  model: LanguageModel;
  /** Who pays: the daily allowance counts only answers paid with the server's keys. */
  keySource: 'user' | 'server';
}

/**
 * The language model to call for `modelId` for a payer with `access`, checked against the models
 * that payer is offered right now (a key removed or a model dropped from the server's list since
 * the conversation was created ends the answer here, before any request to a provider). Throws
 * AiFailure with advice a person can act on. `unlisted` is for the server's own choices (the
 * title model), which need only a key.
 */
export async function modelFor(ai: AiConfig, access: ModelAccess, modelId: string, options: { unlisted?: boolean } = {}): Promise<AnswerModel> {
  const { provider, name } = parseModelId(modelId);
  const own = access.own.get(provider);
  if (!own && !serverCanUse(ai, provider)) {
    throw new AiFailure(`No API key is set up for ${PROVIDER_NAMES[provider]}. Add your own key in Settings → AI, or ask your admin to configure one.`);
  }
  if (!options.unlisted && !access.models.some((m) => m.id === modelId)) {
    throw new AiFailure(`The model "${modelId.slice(0, 200)}" is not offered on this server any more. Start a conversation with one of the models offered.`);
  }
  return { model: await languageModel(ai, provider, name, own), keySource: own ? 'user' : 'server' };
}

/** Providers load on first use (see sdk.ts). */
async function languageModel(ai: AiConfig, provider: AiProvider, name: string, own: string | undefined): Promise<LanguageModel> {
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

/**
 * The image model `modelId` (CONFAB_IMAGE_MODEL, `openai:<model>`: OpenAI's image API or a
 * compatible one) for a payer with `access`, paid like answers: their own OpenAI key when they
 * stored one (sent where their chat requests go), else the server's. Undefined when neither can pay.
 */
export async function imageModelFor(ai: AiConfig, access: ModelAccess, modelId: string): Promise<ImageModel | undefined> {
  const { provider, name } = parseModelId(modelId);
  if (provider !== 'openai') return undefined;
  const own = access.own.get(provider);
  if (!own && !serverCanUse(ai, provider)) return undefined;
  const settings = own
    ? { apiKey: own, ...(ai.byokOpenaiBaseUrl ? { baseURL: ai.byokOpenaiBaseUrl } : {}) }
    : { apiKey: ai.keys.openai ?? 'not-needed', ...(ai.openaiBaseUrl ? { baseURL: ai.openaiBaseUrl } : {}) };
  const { createOpenAI } = await import('@ai-sdk/openai');
  return createOpenAI(settings).image(name);
}
