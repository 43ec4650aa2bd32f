/**
 * Change notification: the store marks keys dirty as it changes ("msgs:<conversationId>",
 * "convs", "typing:<conversationId>", "presence:<userId>", "meta:<conversationId>") and flushes once
 * per microtask, so a whole sync page or a burst of events delivered in one task reaches each
 * listener once.
 */
export class Notifier {
  private dirty = new Set<string>();
  private scheduled = false;
  private listeners = new Map<string, Set<() => void>>();

  touch(key: string): void {
    this.dirty.add(key);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  listen(keys: readonly string[], fn: () => void): () => void {
    for (const key of keys) {
      let set = this.listeners.get(key);
      if (!set) this.listeners.set(key, (set = new Set()));
      set.add(fn);
    }
    return () => {
      for (const key of keys) {
        const set = this.listeners.get(key);
        set?.delete(fn);
        if (set?.size === 0) this.listeners.delete(key);
      }
    };
  }

  /** Calls every listener of every dirty key, each listener once. */
  flush(): void {
    this.scheduled = false;
    if (this.dirty.size === 0) return;
    const keys = this.dirty;
    this.dirty = new Set();
    const due = new Set<() => void>();
    for (const key of keys) for (const fn of this.listeners.get(key) ?? []) due.add(fn);
    for (const fn of due) {
      try {
        fn();
      } catch (error) {
        // A subscriber's bug must not stop the others from hearing about the change.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

/** Shallow equality of arrays (element identity) and of plain records (value identity). */
export function shallowEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
    return true;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    for (const k of ka) {
      if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
      if (!Object.is((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
    }
    return true;
  }
  return false;
}

/**
 * A derived value of the store that knows when it changed. `get()` returns the same object until
 * the result really differs (so React's useSyncExternalStore and `===` checks work), and
 * subscribers hear about a change once per flush.
 */
export class LiveQuery<T> {
  private value: T | undefined;
  private hasValue = false;
  private stale = true;
  private subscribers = new Set<(value: T) => void>();
  private detach: (() => void) | null = null;

  constructor(
    private readonly notifier: Notifier,
    private readonly keys: () => readonly string[],
    private readonly compute: () => T,
    private readonly equal: (a: T, b: T) => boolean = shallowEqual,
    /** Called when the first subscriber arrives and after the last leaves (e.g. to send `subscribe`). */
    private readonly onActive?: (active: boolean) => void,
  ) {}

  get = (): T => {
    // Without subscribers nothing tells us about changes, so recompute on every read.
    if (this.stale || !this.detach) {
      const next = this.compute();
      if (!this.hasValue || !this.equal(this.value as T, next)) {
        this.value = next;
        this.hasValue = true;
      }
      this.stale = this.detach === null;
    }
    return this.value as T;
  };

  subscribe = (fn: (value: T) => void): (() => void) => {
    this.subscribers.add(fn);
    if (!this.detach) {
      this.stale = true;
      this.detach = this.notifier.listen(this.keys(), () => {
        const before = this.value;
        this.stale = true;
        const after = this.get();
        if (after !== before) for (const s of [...this.subscribers]) s(after);
      });
      this.get();
      this.onActive?.(true);
    }
    return () => {
      if (!this.subscribers.delete(fn) || this.subscribers.size > 0) return;
      this.detach?.();
      this.detach = null;
      this.stale = true;
      this.onActive?.(false);
    };
  };
}
