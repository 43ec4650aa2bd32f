import { describe, expect, it } from 'vitest';
import { loadAiConfig } from './config.ts';

describe('AI configuration', () => {
  it('caps answers at 4096 output tokens unless CONFAB_AI_MAX_OUTPUT_TOKENS says otherwise', () => {
    expect(loadAiConfig({}).maxOutputTokens).toBe(4096);
    expect(loadAiConfig({ CONFAB_AI_MAX_OUTPUT_TOKENS: '800' }).maxOutputTokens).toBe(800);
    for (const bad of ['0', '-5', '12.5', 'lots']) {
      expect(() => loadAiConfig({ CONFAB_AI_MAX_OUTPUT_TOKENS: bad }), bad).toThrow(/CONFAB_AI_MAX_OUTPUT_TOKENS must be a positive integer/);
    }
  });
});
