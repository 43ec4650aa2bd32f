import DOMPurify from 'dompurify';
import type { HLJSApi } from 'highlight.js';
import MarkdownIt, { type Env, type Token } from 'markdown-it';
import { markMentions, renderMention, type MentionMarks } from './mentionMarks.ts';

/**
 * Message text → safe HTML. Three layers, each enough on its own for its part:
 *  1. markdown-it renders markdown, but raw HTML in a message is shown as text (never passed through),
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

/** Guessing runs every grammar over the code: a message gets this many characters of guessing in all. */
const AUTO_BUDGET = 8000;

function highlight(code: string, lang: string | undefined, streaming: boolean, env: RenderEnv): string {
  const language = lang?.trim().split(/\s+/)[0]?.toLowerCase();
  if (!hljs) {
    loadHighlighter();
    return escapeHtml(code);
  }
  try {
    if (language && hljs.getLanguage(language)) return hljs.highlight(code, { language, ignoreIllegals: true }).value;
    // Guessing the language is costly: not on every delta of a streaming answer, nor for long code.
    // (A message of thousands of tiny code blocks would otherwise guess thousands of times.)
    const cost = Math.max(code.length, 200);
    if (!streaming && cost <= env.autoBudget) {
      env.autoBudget -= cost;
      return hljs.highlightAuto(code).value;
    }
  } catch {
    /* fall through to plain text */
  }
  return escapeHtml(code);
}

interface RenderEnv extends Env {
  streaming: boolean;
  /** Whether each open link was kept (a link's close tag must match its open tag). */
  links: boolean[];
  /** What is left of AUTO_BUDGET. */
  autoBudget: number;
  /** Mentions to highlight (mentions/markdownMentions.ts). */
  mentions?: MentionMarks | undefined;
}
/** Every render passes a RenderEnv (see markdownToHtml). */
const own = (env: Env | undefined) => env as RenderEnv;
const attr = (t: Token, name: string) => {
  const v = t.attrGet(name);
  return v === null ? null : String(v);
};

/**
 * Nesting deeper than this is not markdown a person writes. markdown-it stops descending there
 * (dropping what is deeper), so such a message is shown as plain text instead.
 */
const MAX_NESTING = 40;

function codeBlock(text: string, info: string, env: RenderEnv): string {
  const lang = info.trim().split(/\s+/)[0] ?? '';
  return `<div class="code-block"><div class="code-head"><span>${escapeHtml(lang) || 'code'}</span><button type="button" class="code-copy" data-copy="1">Copy</button></div><pre><code class="hljs">${highlight(text, lang, env.streaming, env)}</code></pre></div>`;
}

/**
 * markdown-it rather than marked: its parsers work in time linear in the input and bound nesting
 * (maxNesting), where marked overflowed the stack on a few KB of nested list or quote markers and
 * took seconds on emphasis runs. Raw HTML is off (shown as text, as typed).
 */
const md = new MarkdownIt('default', { html: false, linkify: true, breaks: true, typographer: false, maxNesting: MAX_NESTING });
// Unsafe targets are shown struck through by the link rule below rather than dropped silently.
md.validateLink = () => true;

const rules = md.renderer.rules;
rules.link_open = (tokens, idx, _options, env) => {
  const href = safeUrl(attr(tokens[idx]!, 'href'));
  own(env).links.push(href !== null);
  if (!href) return '<span class="md-badlink">';
  return `<a href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer nofollow">`;
};
rules.link_close = (_tokens, _idx, _options, env) => (own(env).links.pop() ? '</a>' : '</span>');
rules.image = (tokens, idx, options, env, self) => {
  const token = tokens[idx]!;
  const href = safeUrl(attr(token, 'src'));
  const alt = escapeHtml(self.renderInlineAsText(token.children ?? [], options, env) || 'image');
  if (!href) return `<span class="md-badlink">[${alt}]</span>`;
  const host = escapeHtml(new URL(href).host);
  // Nothing is fetched until the reader chooses to open it (no tracking pixels, no IP leaks).
  return `<a class="md-image-placeholder" href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer nofollow" title="Open the image from ${host}">🖼 ${alt} <small>(image from ${host}: click to open)</small></a>`;
};
rules.fence = (tokens, idx, _options, env) => codeBlock(tokens[idx]!.content, tokens[idx]!.info, own(env));
rules.code_block = (tokens, idx, _options, env) => codeBlock(tokens[idx]!.content, '', own(env));
rules.mention = renderMention;
md.core.ruler.push('mentions', markMentions);
rules.task_box = (tokens, idx) => `<input type="checkbox" disabled${tokens[idx]!.meta?.checked ? ' checked' : ''}> `;

// GitHub's task lists ("- [ ] todo", "- [x] done"), which marked rendered: a list item whose text
// starts with a box gets a disabled checkbox.
md.core.ruler.push('task_lists', (state) => {
  const tokens = state.tokens;
  for (let i = 2; i < tokens.length; i++) {
    const inline = tokens[i]!;
    if (inline.type !== 'inline' || tokens[i - 1]!.type !== 'paragraph_open' || tokens[i - 2]!.type !== 'list_item_open') continue;
    const first = inline.children?.[0];
    const m = first?.type === 'text' ? /^\[([ xX])\](?=\s|$)/.exec(first.content) : null;
    if (!first || !m) continue;
    first.content = first.content.slice(3).replace(/^\s/, '');
    const box = new state.Token('task_box', 'input', 0);
    box.meta = { checked: m[1] !== ' ' };
    inline.children!.unshift(box);
  }
  return false;
});

/**
 * True when the parse reached the nesting bound (markdown-it left the deeper part out), or inline
 * markup nests deeper than it (a run of thousands of `*` makes as many nested <strong>, which
 * the sanitizer and the browser would then walk level by level).
 */
function tooDeep(tokens: Token[]): boolean {
  let depth = 0;
  for (const t of tokens) {
    depth += t.nesting;
    if (depth >= MAX_NESTING - 1) return true;
    if (t.children) {
      let inner = depth;
      for (const c of t.children) {
        inner += c.nesting;
        if (inner >= MAX_NESTING - 1) return true;
      }
    }
  }
  return false;
}

/** The text as typed, escaped, its lines kept: for messages that are not markdown anyone wrote. */
function plainHtml(text: string): string {
  return `<p class="md-plain">${escapeHtml(text)}</p>`;
}

/** Markdown to HTML, before sanitizing (exported for the tests that time it). */
export function markdownToHtml(text: string, streaming = false, mentions?: MentionMarks): string {
  try {
    const env: RenderEnv = { streaming, links: [], autoBudget: AUTO_BUDGET, mentions };
    const tokens = md.parse(text, env);
    if (tooDeep(tokens)) return plainHtml(text);
    return md.renderer.render(tokens, md.options, env);
  } catch {
    // Whatever a parser cannot handle (a bug, a stack too small for some input) is shown as text
    // rather than taking the conversation down with it.
    return plainHtml(text);
  }
}

const PURIFY = {
  ALLOWED_TAGS: [
    'a', 'b', 'blockquote', 'br', 'button', 'code', 'del', 'div', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'input',
    'li', 'ol', 'p', 'pre', 's', 'small', 'span', 'strong', 'sub', 'sup', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul',
  ],
  ALLOWED_ATTR: ['href', 'target', 'rel', 'class', 'title', 'type', 'checked', 'disabled', 'data-copy', 'align'],
  ALLOW_DATA_ATTR: false,
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:)/i,
  // Attributes DOMPurify does not know as plain values would otherwise be checked against the URI
  // pattern above and dropped (the copy button lost its data-copy, the task box its type).
  ADD_URI_SAFE_ATTR: ['type', 'data-copy', 'align'],
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

export function renderMarkdown(text: string, streaming = false, mentions?: MentionMarks): string {
  const key = (streaming ? 's' : 'c') + (mentions ? `${mentions.key}\u0000` : '') + text;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  ensureHooks();
  const html = markdownToHtml(text, streaming, mentions);
  const clean = DOMPurify.sanitize(html, PURIFY);
  if (!streaming) {
    if (cache.size > 500) cache.delete(cache.keys().next().value!);
    cache.set(key, clean);
  }
  return clean;
}

/**
 * Plain text of a message, one line: for previews and notifications. Every pattern here runs in
 * time linear in the text (no part can rescan what an earlier start already scanned: labels stop
 * at the next bracket, targets at the next parenthesis), since the sidebar computes it on every
 * render for every conversation.
 */
export function plainPreview(text: string, max = 120): string {
  const s = text
    .replace(/```[\s\S]*?```/g, '[code]')
    .replace(/!\[([^[\]]*)\]\([^()]*\)/g, '[image]')
    .replace(/\[([^[\]]*)\]\([^()]*\)/g, '$1')
    .replace(/[*_`#>~]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
