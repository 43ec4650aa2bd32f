import type { ChatMessage } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { humanError } from '../lib/errors.ts';
import { Icon } from '../ui/Icon.tsx';
import { toast } from '../ui/toast.tsx';
import './LinkPreview.css';

/** How close to the bottom (px) still counts as "reading the latest": the list's own threshold. */
const AT_BOTTOM_PX = 80;

/** The preview image, fetched through the SDK (members only, with the session's token) and shown from a blob: URL. */
function usePreviewImage(imageUrl: string | null | undefined): { url: string | null; failed: boolean } {
  const client = useConfabClient();
  const [state, setState] = useState<{ url: string | null; failed: boolean }>({ url: null, failed: false });
  useEffect(() => {
    if (!imageUrl) return;
    let cancelled = false;
    let objectUrl: string | null = null;
    setState({ url: null, failed: false });
    client.api.downloadPreviewImage(imageUrl).then(
      (blob) => {
        if (cancelled) return;
        objectUrl = URL.createObjectURL(blob);
        setState({ url: objectUrl, failed: false });
      },
      () => !cancelled && setState({ url: null, failed: true }),
    );
    return () => {
      cancelled = true;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [client, imageUrl]);
  return state;
}

/**
 * Keeps the message list pinned to the bottom when a card appears under one of the last messages:
 * a preview arrives a moment after its message, and a reader at the bottom should still see the
 * end of the conversation, not the card pushing it out of view.
 */
function useStayPinned(ref: React.RefObject<HTMLElement | null>) {
  useLayoutEffect(() => {
    const card = ref.current;
    const scroller = card?.closest<HTMLElement>('[data-virtuoso-scroller], .virtuoso');
    if (!card || !scroller) return;
    const gap = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
    // Was the reader at the bottom before this card took its height?
    if (gap - card.offsetHeight <= AT_BOTTOM_PX && gap > 0) scroller.scrollTop = scroller.scrollHeight;
  }, [ref]);
}

/**
 * The card under a message with a link preview: site, title, description and a thumbnail, all
 * from Confab (the server fetched the page and re-encoded the image; nothing loads from the
 * outside site). The sender gets a × to remove it for everyone. Fixed thumbnail size, so the
 * image arriving later does not move anything; the card fades in.
 */
export function LinkPreviewCard({ m, mine }: { m: ChatMessage; mine: boolean }) {
  const client = useConfabClient();
  const p = m.linkPreview;
  const ref = useRef<HTMLDivElement>(null);
  const image = usePreviewImage(p?.imageUrl);
  const [removing, setRemoving] = useState(false);
  useStayPinned(ref);
  if (!p) return null;

  let host = '';
  try {
    host = new URL(p.url).hostname.replace(/^www\./, '');
  } catch {
    host = '';
  }
  const remove = () => {
    if (!m.id || removing) return;
    setRemoving(true);
    client.removePreview(m.id).then(
      () => undefined,
      (error: unknown) => {
        setRemoving(false);
        toast(humanError(error), 'error');
      },
    );
  };

  return (
    <div ref={ref} className={`link-preview${p.imageUrl ? ' has-image' : ''}`} data-testid="link-preview">
      <a className="lp-main" href={p.url} target="_blank" rel="noopener noreferrer nofollow ugc">
        <span className="lp-site">{p.siteName || host}</span>
        {p.title && <span className="lp-title">{p.title}</span>}
        {p.description && <span className="lp-desc">{p.description}</span>}
      </a>
      {p.imageUrl && !image.failed && (
        <a className="lp-thumb" href={p.url} target="_blank" rel="noopener noreferrer nofollow ugc" tabIndex={-1} aria-hidden="true">
          {image.url ? <img src={image.url} alt="" /> : <span className="sk" />}
        </a>
      )}
      {mine && (
        <button type="button" className="lp-remove" onClick={remove} disabled={removing} aria-label="Remove link preview" title="Remove preview">
          <Icon name="close" size={14} />
        </button>
      )}
    </div>
  );
}
