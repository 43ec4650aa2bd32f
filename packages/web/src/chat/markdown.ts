import DOMPurify from 'dompurify';
import type { HLJSApi } from 'highlight.js';
import { Marked, type Tokens } from 'marked';

/**
 * Message text → safe HTML. Three layers, each enough on its own for its part:
 *  1. marked renders markdown, but raw HTML in a message is shown as text (never passed through),
 *     links keep only http(s)/mailto targets, and images from elsewhere become a placeholder that
 *     loads nothing (the reader opens them on purpose);
 *  2. DOMPurify then sanitizes the result against a short list of tags and attributes;
 *  3. the page's CSP allows no inline script and no outside image anyway.
 */
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function safeUrl(href: string | null | undefined): string | null {
  if (!href) return null;
  const trimmed = href.trim();
  try {
    const url = new URL(trimmed, window.location.origin);
    if (url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'mailto:') return url.href;
  } catch {
    /* not a URL */
  }
  return null;
}

/**
 * highlight.js is loaded on first need (its own chunk), so the app starts without it. Code shows
 * plain until it arrives, then every message with code renders again (see useHighlighter).
 */
let hljs: HLJSApi | null = null;
let loading: Promise<void> | null = null;
const readyListeners = new Set<() => void>();

export function loadHighlighter(): void {
  loading ??= import('highlight.js/lib/common').then(
    (mod) => {
      hljs = mod.default;
      cache.clear();
      for (const fn of [...readyListeners]) fn();
    },
    () => {
      loading = null;
    },
  );
}

export function highlighterReady(): boolean {
  return hljs !== null;
}

export function onHighlighterReady(fn: () => void): () => void {
  readyListeners.add(fn);
  return () => readyListeners.delete(fn);
}

function highlight(code: string, lang: string | undefined, streaming: boolean): string {
  const language = lang?.trim().split(/\s+/)[0]?.toLowerCase();
  if (!hljs) {
    loadHighlighter();
    return escapeHtml(code);
  }
  try {
    if (language && hljs.getLanguage(language)) return hljs.highlight(code, { language, ignoreIllegals: true }).value;
    // Guessing the language is costly: not on every delta of a streaming answer, nor for long code.
    if (!streaming && code.length < 8000) return hljs.highlightAuto(code).value;
  } catch {
    /* fall through to plain text */
  }
  return escapeHtml(code);
}

function makeMarked(streaming: boolean): Marked {
  const marked = new Marked({ gfm: true, breaks: true, async: false });
  marked.use({
    renderer: {
      // Raw HTML in a message is text, as typed.
      html(token: Tokens.HTML | Tokens.Tag) {
        return escapeHtml(token.text);
      },
      link(token: Tokens.Link) {
        const text = this.parser.parseInline(token.tokens);
        const href = safeUrl(token.href);
        if (!href) return `<span class="md-badlink">${text}</span>`;
        return `<a href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer nofollow">${text}</a>`;
      },
      image(token: Tokens.Image) {
        const href = safeUrl(token.href);
        const alt = escapeHtml(token.text || 'image');
        if (!href) return `<span class="md-badlink">[${alt}]</span>`;
        const host = escapeHtml(new URL(href).host);
        // Nothing is fetched until the reader chooses to open it (no tracking pixels, no IP leaks).
        return `<a class="md-image-placeholder" href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer nofollow" title="Open the image from ${host}">🖼 ${alt} <small>(image from ${host}: click to open)</small></a>`;
      },
      code(token: Tokens.Code) {
        const lang = token.lang ? escapeHtml(token.lang.split(/\s+/)[0] ?? '') : '';
        return `<div class="code-block"><div class="code-head"><span>${lang || 'code'}</span><button type="button" class="code-copy" data-copy="1">Copy</button></div><pre><code class="hljs">${highlight(token.text, token.lang, streaming)}</code></pre></div>`;
      },
    },
  });
  return marked;
}

const markedStatic = makeMarked(false);
const markedStreaming = makeMarked(true);

const PURIFY = {
  ALLOWED_TAGS: [
    'a', 'b', 'blockquote', 'br', 'button', 'code', 'del', 'div', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'input',
    'li', 'ol', 'p', 'pre', 's', 'small', 'span', 'strong', 'sub', 'sup', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul',
  ],
  ALLOWED_ATTR: ['href', 'target', 'rel', 'class', 'title', 'type', 'checked', 'disabled', 'data-copy', 'align'],
  ALLOW_DATA_ATTR: false,
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:)/i,
};

let hooked = false;
function ensureHooks(): void {
  if (hooked) return;
  hooked = true;
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer nofollow');
    }
    if (node.tagName === 'INPUT' && node.getAttribute('type') !== 'checkbox') node.remove();
    if (node.tagName === 'INPUT') node.setAttribute('disabled', '');
  });
}

const cache = new Map<string, string>();

export function renderMarkdown(text: string, streaming = false): string {
  const key = (streaming ? 's' : 'c') + text;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  ensureHooks();
  const html = (streaming ? markedStreaming : markedStatic).parse(text) as string;
  const clean = DOMPurify.sanitize(html, PURIFY);
  if (!streaming) {
    if (cache.size > 500) cache.delete(cache.keys().next().value!);
    cache.set(key, clean);
  }
  return clean;
}

/** Plain text of a message, one line: for previews and notifications. */
export function plainPreview(text: string, max = 120): string {
  const s = text
    .replace(/```[\s\S]*?```/g, '[code]')
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '[image]')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[*_`#>~]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
