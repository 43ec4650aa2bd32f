import type * as AiSdkModule from 'ai';

/**
 * The AI SDK and its providers load on first use, not at start-up: loading them is a noticeable
 * part of start-up, which every restart would add to the time clients wait (and a server without AI
 * configured never needs them). The figure: docs/benchmarks.md, "Figures behind design choices".
 */
type AiSdk = typeof AiSdkModule;
let sdk: AiSdk | undefined;

export async function loadAiSdk(): Promise<AiSdk> {
  return (sdk ??= await import('ai'));
}

/** The SDK if anything has loaded it yet: an error can only come from it once it has. */
export function loadedAiSdk(): AiSdk | undefined {
  return sdk;
}
