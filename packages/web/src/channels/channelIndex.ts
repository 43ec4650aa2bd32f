import type { Channel, ConfabClient } from '@confab/client';
import { useConfabClient, useConversations } from '@confab/client/react';
import { useCallback, useEffect, useMemo, useSyncExternalStore } from 'react';

/**
 * The public channels this page knows of, by the name people type after `#`: the title in lower
 * case with runs of spaces as one `-` ("Team updates" → `#team-updates`). Filled from the directory
 * (GET /api/channels, the first pages when a message first needs it, and every page the directory
 * shows) and from the caller's own public conversations. Only what is listed here becomes a link.
 */
export function channelSlug(title: string): string {
  return title.trim().toLowerCase().replace(/\s+/g, '-');
}

const known = new Map<string, { id: string; title: string }>();
const listeners = new Set<() => void>();
let version = 0;
let loadedFor: ConfabClient | null = null;

function changed(): void {
  version++;
  for (const fn of [...listeners]) fn();
}

/** Adds channels seen anywhere (the directory, a join). */
export function rememberChannels(channels: Array<Pick<Channel, 'id' | 'title'>>): void {
  let any = false;
  for (const c of channels) {
    const slug = channelSlug(c.title);
    if (!slug || known.get(slug)?.id === c.id) continue;
    known.set(slug, { id: c.id, title: c.title });
    any = true;
  }
  if (any) changed();
}

const REFRESH_MS = 30_000;
let lastLoad = 0;
let loading = false;

/**
 * Loads the first pages of the directory (at most 5 × 200 channels): once per client, and again
 * (at most every 30 s) when a message names a channel this page does not know yet.
 */
function load(client: ConfabClient, force = false): void {
  if (loading || (loadedFor === client && !(force && Date.now() - lastLoad > REFRESH_MS))) return;
  loadedFor = client;
  loading = true;
  lastLoad = Date.now();
  void (async () => {
    try {
      let cursor: string | undefined;
      for (let page = 0; page < 5; page++) {
        const res = await client.api.listChannels({ limit: 200, ...(cursor ? { cursor } : {}) });
        rememberChannels(res.channels);
        if (!res.nextCursor) return;
        cursor = res.nextCursor;
      }
    } catch {
      loadedFor = null;
    } finally {
      loading = false;
    }
  })();
}

/** The known channels by slug; re-renders when more become known. */
export function useChannelIndex(): { index: ReadonlyMap<string, { id: string; title: string }>; refresh: () => void } {
  const client = useConfabClient();
  const conversations = useConversations();
  useEffect(() => load(client), [client]);
  const mine = useMemo(() => conversations.filter((c) => c.visibility === 'public' && c.title).map((c) => ({ id: c.id, title: c.title! })), [conversations]);
  useEffect(() => rememberChannels(mine), [mine]);
  const v = useSyncExternalStore(
    (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    () => version,
  );
  const index = useMemo(() => new Map(known), [v]);
  const refresh = useCallback(() => load(client, true), [client]);
  return useMemo(() => ({ index, refresh }), [index, refresh]);
}

const CHANNEL_REF = /(^|[^\p{L}\p{N}_&#/-])#([\p{L}\p{N}_-]{1,80})/gu;

/**
 * Turns `#name` in the text of a rendered message into links to known public channels. Runs over
 * the sanitized DOM (text nodes only, never inside links or code), so the markdown renderer stays
 * as it is and nothing of the text can become markup. Returns whether some `#name` is unknown.
 */
export function linkChannels(root: HTMLElement, index: ReadonlyMap<string, { id: string; title: string }>): boolean {
  if (!root.textContent?.includes('#')) return false;
  let unknown = false;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) => (node.parentElement?.closest('a, code, pre, .channel-link') ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  const nodes: Text[] = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) if ((n as Text).data.includes('#')) nodes.push(n as Text);
  for (const node of nodes) {
    const text = node.data;
    const parts: Node[] = [];
    let last = 0;
    for (const match of text.matchAll(CHANNEL_REF)) {
      const name = match[2]!;
      const channel = index.get(name.toLowerCase());
      if (!channel) {
        unknown = true;
        continue;
      }
      const start = match.index + match[1]!.length;
      if (start > last) parts.push(document.createTextNode(text.slice(last, start)));
      const a = document.createElement('a');
      a.className = 'channel-link';
      a.href = `/c/${encodeURIComponent(channel.id)}`;
      a.dataset.channelId = channel.id;
      a.title = `Open #${channel.title}`;
      a.textContent = `#${name}`;
      parts.push(a);
      last = start + 1 + name.length;
    }
    if (parts.length === 0) continue;
    if (last < text.length) parts.push(document.createTextNode(text.slice(last)));
    node.replaceWith(...parts);
  }
  return unknown;
}
