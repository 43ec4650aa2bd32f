import { isPublicAddress } from './address.ts';
import { fetchLimited, PreviewFetchError, systemLookup, type FetchPolicy } from './fetch.ts';
import { reencodeImage, type PreviewImage } from './image.ts';
import type { PreviewOptions } from './options.ts';
import { decodeHtml, parsePageMeta } from './parse.ts';

export const USER_AGENT = 'ConfabBot/1.0 (link previews)';

export interface Unfurled {
  title: string | null;
  description: string | null;
  siteName: string | null;
  image: PreviewImage | undefined;
}

export function fetchPolicy(opts: PreviewOptions): FetchPolicy {
  return {
    allowPrivate: opts.allowPrivate,
    maxBytes: opts.maxBytes,
    timeoutMs: opts.timeoutMs,
    maxRedirects: opts.maxRedirects,
    userAgent: USER_AGENT,
    lookup: opts.lookup ?? systemLookup,
    isPublic: opts.isPublic ?? isPublicAddress,
  };
}

const HTML = /^(text\/html|application\/xhtml\+xml)\s*(;|$)/;
const RASTER = /^image\/(jpeg|pjpeg|png|gif|webp|avif|heic|heif)\s*(;|$)/;

/**
 * The preview of `link`: its page fetched and parsed, and its image fetched and re-encoded, each
 * under the fetch rules (fetch.ts). Undefined when the page says nothing worth a card (no title,
 * no description). Throws PreviewFetchError when the page cannot be fetched; an image that
 * cannot is left out.
 */
export async function unfurl(link: string, opts: PreviewOptions, signal?: AbortSignal): Promise<Unfurled | undefined> {
  const policy = fetchPolicy(opts);
  const page = await fetchLimited(link, policy, { accept: 'text/html,application/xhtml+xml;q=0.9', acceptType: (t) => HTML.test(t), signal });
  const meta = parsePageMeta(decodeHtml(page.body, page.contentType), page.url);
  if (!meta.title && !meta.description) return undefined;
  let image: PreviewImage | undefined;
  if (meta.image) {
    try {
      const fetched = await fetchLimited(meta.image, policy, { accept: 'image/webp,image/png,image/jpeg,image/gif;q=0.9', acceptType: (t) => RASTER.test(t), signal });
      image = await reencodeImage(fetched.body, { maxPx: opts.imageMaxPx, maxInputPixels: opts.imageMaxInputPixels });
    } catch (error) {
      if (!(error instanceof PreviewFetchError) || error.reason === 'aborted') throw error;
    }
  }
  return { title: meta.title, description: meta.description, siteName: meta.siteName ?? page.url.hostname, image };
}
