import type { Storage } from '../types.ts';

const STORE = 'kv';

function promisify<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

/**
 * IndexedDB (the browser default), one object store of key → value in database `name`.
 * IndexedDB is shared by the tabs of an origin, which is what lets a leader tab drain messages
 * that another tab queued. `factory` defaults to the global `indexedDB` (tests pass fake-indexeddb).
 */
export function indexedDbStorage(name = 'confab', factory?: IDBFactory): Storage {
  let db: Promise<IDBDatabase> | undefined;
  const open = () =>
    (db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const idb = factory ?? globalThis.indexedDB;
      if (!idb) {
        reject(new Error('IndexedDB is not available here; pass another storage'));
        return;
      }
      const request = idb.open(name, 1);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error ?? new Error('cannot open IndexedDB'));
      request.onblocked = () => reject(new Error('IndexedDB open is blocked by another tab'));
    }));

  async function run<T>(mode: IDBTransactionMode, fn: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const tx = (await open()).transaction(STORE, mode);
    // Writes resolve only once committed, so a value set is durable when set() returns.
    const done = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
    const [result] = await Promise.all([promisify(fn(tx.objectStore(STORE))), done]);
    return result;
  }

  return {
    get: (key) => run('readonly', (s) => s.get(key) as IDBRequest<unknown>),
    async set(key, value) {
      // Store JSON-shaped copies: what comes back is what a file or memory storage would return.
      await run('readwrite', (s) => s.put(JSON.parse(JSON.stringify(value)) as unknown, key));
    },
    async delete(key) {
      await run('readwrite', (s) => s.delete(key));
    },
    async keys(prefix) {
      const KeyRange = (globalThis as { IDBKeyRange?: typeof IDBKeyRange }).IDBKeyRange;
      const range = KeyRange ? KeyRange.bound(prefix, `${prefix}\uffff`) : undefined;
      const keys = await run('readonly', (s) => s.getAllKeys(range));
      return keys.filter((k): k is string => typeof k === 'string' && k.startsWith(prefix));
    },
  };
}
