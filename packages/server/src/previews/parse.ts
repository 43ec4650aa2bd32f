import { Parser } from 'htmlparser2';

/** What a page says about itself: Open Graph, then Twitter cards, then plain HTML. */
export interface PageMeta {
  title: string | null;
  description: string | null;
  siteName: string | null;
  /** Absolute http(s) URL of the page's preview image, if it names one. */
  image: string | null;
}

const LIMITS = { title: 300, description: 600, siteName: 120 } as const;

/** Text as a card shows it: no control characters, whitespace collapsed, at most `max` characters. */
export function clean(value: string | undefined | null, max: number): string | null {
  if (!value) return null;
  const text = value.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/g, ' ').replace(/\s+/g, ' ').trim();
  if (text === '') return null;
  return text.length > max ? `${text.slice(0, max - 1).trimEnd()}…` : text;
}

/**
 * The character set a page declares: the Content-Type header's, else a `<meta charset>` (or
 * http-equiv) in the first 1024 bytes, as browsers look for it; UTF-8 when none is named.
 */
export function declaredCharset(contentType: string, head: Buffer): string {
  const fromHeader = /charset\s*=\s*["']?([\w.:-]+)/i.exec(contentType)?.[1];
  if (fromHeader) return fromHeader;
  const start = head.subarray(0, 1024).toString('latin1');
  return /<meta[^>]+charset\s*=\s*["']?([\w.:-]+)/i.exec(start)?.[1] ?? 'utf-8';
}

export function decodeHtml(body: Buffer, contentType: string): string {
  const charset = declaredCharset(contentType, body);
  try {
    return new TextDecoder(charset).decode(body);
  } catch {
    // An unknown label: the web's default.
    return new TextDecoder('utf-8').decode(body);
  }
}

/**
 * Reads a page's metadata with htmlparser2 (a forgiving streaming parser: a page cut at 1 MB
 * still parses up to the cut). Only `<meta>`, the first `<title>` and `<link rel=image_src>` are
 * looked at; metadata belongs in the head, but a page that puts it later still works.
 */
export function parsePageMeta(html: string, pageUrl: URL): PageMeta {
  const meta = new Map<string, string>();
  let title = '';
  let inTitle = false;
  let titleDone = false;
  let linkImage: string | undefined;
  const parser = new Parser(
    {
      onopentag(name, attrs) {
        if (name === 'meta') {
          const key = (attrs.property ?? attrs.name ?? attrs.itemprop ?? '').trim().toLowerCase();
          const content = attrs.content;
          // The first one wins, as for Open Graph's own consumers.
          if (key && content !== undefined && !meta.has(key)) meta.set(key, content);
        } else if (name === 'title' && !titleDone) {
          inTitle = true;
        } else if (name === 'link' && (attrs.rel ?? '').toLowerCase().split(/\s+/).includes('image_src') && attrs.href) {
          linkImage ??= attrs.href;
        }
      },
      ontext(text) {
        if (inTitle) title += text;
      },
      onclosetag(name) {
        if (name === 'title' && inTitle) {
          inTitle = false;
          titleDone = true;
        }
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();
  const pick = (...keys: string[]) => keys.map((k) => meta.get(k)).find((v) => v !== undefined && v.trim() !== '');
  const rawImage = pick('og:image:secure_url', 'og:image:url', 'og:image', 'twitter:image', 'twitter:image:src', 'image') ?? linkImage;
  let image: string | null = null;
  if (rawImage) {
    try {
      const u = new URL(rawImage.trim(), pageUrl);
      if (u.protocol === 'http:' || u.protocol === 'https:') image = u.toString();
    } catch {
      image = null;
    }
  }
  return {
    title: clean(pick('og:title', 'twitter:title') ?? title, LIMITS.title),
    description: clean(pick('og:description', 'twitter:description', 'description'), LIMITS.description),
    siteName: clean(pick('og:site_name', 'application-name', 'twitter:site'), LIMITS.siteName),
    image,
  };
}
