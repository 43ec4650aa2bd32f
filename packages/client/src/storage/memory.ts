import type { Storage } from '../types.ts';

/** Keeps everything in memory: the Node default. Values are cloned so callers cannot alias them. */
export function memoryStorage(): Storage {
  const data = new Map<string, string>();
  return {
    async get(key) {
      const value = data.get(key);
      return value === undefined ? undefined : JSON.parse(value);
    },
    async set(key, value) {
      data.set(key, JSON.stringify(value));
    },
    async delete(key) {
      data.delete(key);
    },
    async keys(prefix) {
      return [...data.keys()].filter((k) => k.startsWith(prefix));
    },
  };
}
