import type { LookupAddress } from 'node:dns';

/** Link previews' settings: config.previews (CONFAB_LINK_PREVIEWS, CONFAB_PREVIEWS_ALLOW_PRIVATE) and tests' overrides. */
export interface PreviewOptions {
  /** CONFAB_LINK_PREVIEWS=off: no preview is fetched (stored ones are still shown and removable). */
  enabled: boolean;
  /** CONFAB_PREVIEWS_ALLOW_PRIVATE=true: private, loopback and link-local addresses may be fetched too. */
  allowPrivate: boolean;
  /** Most bytes read of a page, and of an image. */
  maxBytes: number;
  /** Time allowed for a page, redirects included; the image gets as long again. */
  timeoutMs: number;
  maxRedirects: number;
  /** Previews fetched at once on a node; more wait, up to `maxQueued`, and beyond that are skipped. */
  concurrency: number;
  maxQueued: number;
  /** The served image fits in a square of this many pixels. */
  imageMaxPx: number;
  /** Larger images (width × height) are not decoded. */
  imageMaxInputPixels: number;
  /** Tests only: the resolver (map a test host name to a loopback address). */
  lookup?: ((hostname: string) => Promise<LookupAddress[]>) | undefined;
  /** Tests only: the address check (count one loopback address as public). */
  isPublic?: ((address: string) => boolean) | undefined;
}

export const DEFAULT_PREVIEW_OPTIONS: PreviewOptions = {
  enabled: true,
  allowPrivate: false,
  maxBytes: 1024 * 1024,
  timeoutMs: 5000,
  maxRedirects: 3,
  concurrency: 4,
  maxQueued: 200,
  imageMaxPx: 480,
  imageMaxInputPixels: 40_000_000,
};

