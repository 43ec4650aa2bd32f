import { ConfabError, type ConfabClient } from '@confab/client';
import type {
  AdminUsage,
  Usage,
  UsageQuery,
} from '@confab/protocol';

/**
 * The SDK methods of issue 20's slices, typed as the contract says, while they land one by one on
 * main: the app is written against them now; a method not there yet fails like any error would.
 */
interface TeamApi {
  getUsage(q?: Partial<UsageQuery>): Promise<Usage>;
  getAdminUsage(q?: Partial<UsageQuery>): Promise<AdminUsage>;
}

export function teamApi(client: ConfabClient): ConfabClient['api'] & TeamApi {
  const api = client.api as unknown as Record<string, unknown>;
  return new Proxy(api, {
    get(target, key) {
      const value = target[key as string];
      if (typeof value === 'function') return (value as (...a: unknown[]) => unknown).bind(target);
      if (value === undefined && typeof key === 'string') return () => Promise.reject(new ConfabError('NOT_FOUND', 'not available on this server yet'));
      return value;
    },
  }) as unknown as ConfabClient['api'] & TeamApi;
}
