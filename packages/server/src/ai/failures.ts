import type { APICallError } from 'ai';
import { AiFailure } from './models.ts';
import { loadedAiSdk } from './sdk.ts';

/** Why an answer stopped, in words for the people in the conversation (never a key or a stack). */
export function describeFailure(error: unknown, timedOut: boolean): string {
  if (timedOut) return 'The AI provider took too long to answer. Try again in a moment.';
  if (error instanceof AiFailure) return error.message;
  const apiError = findApiError(error);
  if (apiError) {
    const status = apiError.statusCode;
    // A 2xx status means the answer had started streaming when the connection broke.
    if (status !== undefined && status >= 200 && status < 300) return 'The AI provider cut the answer off. Regenerate to try again.';
    if (status === 401 || status === 403) return `The AI provider refused the API key (${status}). Check the key in Settings → AI.`;
    if (status === 429) return 'The AI provider is rate limiting requests (429). Wait a moment, then regenerate.';
    if (status === 404) return 'The AI provider does not know this model (404). Pick another model.';
    if (status !== undefined && status >= 500) return `The AI provider had an error (${status}). Try again in a moment.`;
    if (status === undefined) return 'The AI provider could not be reached. Try again in a moment.';
    return `The AI provider refused the request (${status}).`;
  }
  const text = String((error as Error)?.message ?? error);
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|fetch failed|connect/i.test(text)) return 'The AI provider could not be reached. Try again in a moment.';
  if (/terminated|socket|aborted|ECONNRESET|premature|closed/i.test(text)) return 'The AI provider cut the answer off. Regenerate to try again.';
  return 'The answer failed for an unexpected reason. Regenerate to try again.';
}

/**
 * The request never got an answer: the connection was refused, or closed before any response (as
 * when the provider closes a kept-alive connection at the moment it is reused). Safe to send again
 * while nothing has been streamed.
 */
export function isConnectionFailure(error: unknown): boolean {
  const apiError = findApiError(error);
  if (apiError) return apiError.statusCode === undefined;
  return /ECONNREFUSED|ECONNRESET|other side closed|socket hang up/i.test(String((error as Error)?.message ?? error));
}

function findApiError(error: unknown): APICallError | undefined {
  // Not loaded yet: then nothing has called a provider, and the error cannot be one of its.
  const APICallError = loadedAiSdk()?.APICallError;
  if (!APICallError) return undefined;
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (APICallError.isInstance(e)) return e;
    const errors = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(errors)) for (const inner of errors) if (APICallError.isInstance(inner)) return inner;
  }
  return undefined;
}

/**
 * What the log says about a failed call: provider, model, HTTP status and a one-word reason, never
 * the error itself (an APICallError holds the request body: system prompt, custom instructions and
 * the decrypted conversation; the provider's message can quote the key).
 */
export function failureLogFields(modelId: string, error: unknown, timedOut: boolean): { provider: string; model: string; status?: number; reason: string; errorType?: string } {
  const at = modelId.indexOf(':');
  const base = { provider: at > 0 ? modelId.slice(0, at) : 'unknown', model: at > 0 ? modelId.slice(at + 1) : modelId };
  if (timedOut) return { ...base, reason: 'timeout' };
  if (error instanceof AiFailure) return { ...base, reason: 'not_available' };
  const apiError = findApiError(error);
  const status = apiError?.statusCode;
  if (apiError) {
    if (status === undefined) return { ...base, reason: 'unreachable' };
    const reason =
      status < 300 ? 'cut_off' : status === 401 || status === 403 ? 'key_refused' : status === 429 ? 'rate_limited' : status === 404 ? 'unknown_model' : status >= 500 ? 'provider_error' : 'refused';
    return { ...base, status, reason };
  }
  const text = String((error as Error)?.message ?? error);
  const errorType = (error as Error)?.name ?? typeof error;
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|fetch failed|connect/i.test(text)) return { ...base, reason: 'unreachable', errorType };
  if (/terminated|socket|aborted|ECONNRESET|premature|closed/i.test(text)) return { ...base, reason: 'cut_off', errorType };
  return { ...base, reason: 'unexpected', errorType };
}
