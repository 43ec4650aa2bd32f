import { z } from 'zod';
import { IsoTime } from './entities.ts';

/** Providers the server knows how to call; `openai` also covers any OpenAI-compatible endpoint. */
export const AiProvider = z.enum(['openai', 'anthropic', 'google']);
export type AiProvider = z.infer<typeof AiProvider>;

/** What a model can take besides text (issue 22): `vision`, images given to it as images. */
export const ModelCapabilities = z.object({ vision: z.boolean() });
export type ModelCapabilities = z.infer<typeof ModelCapabilities>;

export const ModelInfo = z.object({
  /** `provider:model`, e.g. `openai:gpt-4o-mini`; what conversations store in `model`. */
  id: z.string(),
  provider: AiProvider,
  name: z.string(),
  /** Whose key would pay for it: the caller's own (BYOK, preferred) or the server's. */
  keySource: z.enum(['user', 'server']),
  /** Added in issue 22. A model without `vision` is told an image is attached, never shown it. */
  capabilities: ModelCapabilities,
});
export type ModelInfo = z.infer<typeof ModelInfo>;

export const ModelList = z.object({ models: z.array(ModelInfo), defaultModel: z.string().nullable() });
export type ModelList = z.infer<typeof ModelList>;

export const PutApiKeyBody = z.strictObject({ apiKey: z.string().trim().min(8).max(500) });
export type PutApiKeyBody = z.infer<typeof PutApiKeyBody>;
export const ProviderParams = z.strictObject({ provider: AiProvider });
export type ProviderParams = z.infer<typeof ProviderParams>;
/** Which providers the caller has stored a key for; keys themselves are never returned. */
export const ApiKeyList = z.object({ providers: z.array(z.object({ provider: AiProvider, createdAt: z.string() })) });
export type ApiKeyList = z.infer<typeof ApiKeyList>;

/**
 * One version of a message (GET /api/messages/:id/versions): its text and when it was written (the
 * message's creation for the first, the edit or regenerate for later ones); `model` for AI answers.
 */
export const MessageVersion = z.object({ content: z.string(), editedAt: IsoTime, model: z.string().nullable().optional() });
export type MessageVersion = z.infer<typeof MessageVersion>;
/**
 * A message's versions, oldest first, the current one last: edits and regenerated answers. Only
 * the last LIMITS.messageVersionsKept earlier versions are kept; a deleted message has none.
 */
export const MessageVersionList = z.object({ versions: z.array(MessageVersion) });
export type MessageVersionList = z.infer<typeof MessageVersionList>;
