// @vitest-environment jsdom
import { beforeAll, describe, expect, it } from 'vitest';
import { highlighterReady, loadHighlighter, markdownToHtml, onHighlighterReady, plainPreview, renderMarkdown } from './markdown.ts';

/**
 * Message text comes from anyone in the conversation (and from an AI provider). Whatever it is, up
 * to the server's 64 KB limit, rendering it must return soon and never throw: a throw during
 * render unmounted the app for everyone who opened the conversation, and a slow parse froze it.
 *
 * The time bound is on markdownToHtml (the parser and our rules), the part that overflowed the
 * stack or took seconds; sanitizing is timed in the browser tests, since jsdom's DOM is far slower
 * than a browser's. The bound is generous (a loaded machine), far below what the old parser took.
 */
const LIMIT = 64 * 1024;
const BOUND_MS = 2000;
const fill = (unit: string, size: number) => unit.repeat(Math.max(1, Math.floor(size / unit.length)));

/** Seeded, so a failure names an input that can be made again. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  '[', ']', '(', ')', '*', '_', '`', '~', '>', '- ', '1. ', '#', '|', '\\', '<', '&', '!', '"', "'", ':', '\n', ' ', '\t', '    ',
  '[a](', '**a', '__', '***', '<a ', '<!--', '```', '~~', '[^', ']: ', '| a ', '> - ', '- > ', '*a', 'a*', '_a_', '![', '](',
  'http://', 'www.', '@a.b', '<http', '&#', '* ', '+ ', '1) ', '= ', '---\n', '\n\n', '[x]: y\n', '<div>', 'a\\*', '``', '- [ ] ',
];

/** The inputs filed in the issue and their kin, at the size limit. */
const FILED: [string, string][] = [
  ['"- " x 1200 + x', '- '.repeat(1200) + 'x'],
  ['">" x 1840', '>'.repeat(1840)],
  ['"1. " x 1200', '1. '.repeat(1200)],
  ['"*" x 2060 + x + "*" x 2060', '*'.repeat(2060) + 'x' + '*'.repeat(2060)],
  ['"[" x 65536', '['.repeat(65536)],
  ['"*" x 32K + x + "*" x 32K', '*'.repeat(LIMIT / 2 - 1) + 'x' + '*'.repeat(LIMIT / 2 - 1)],
  ['"- " x 32K', fill('- ', LIMIT)],
  ['">" x 64K', fill('>', LIMIT)],
  ['"**a\'" x 16K', fill("**a'", LIMIT)],
  ['thousands of code blocks', fill('\n```', LIMIT)],
  ['code fence of nested quotes', '```\n' + fill('> - ', LIMIT - 8) + '\n```'],
];

function nastyInputs(): [string, string][] {
  const out = [...FILED];
  // Every piece alone at the limit, every pair at 8 KB, and seeded random mixes at the limit.
  for (const p of PIECES) out.push([`${JSON.stringify(p)} to 64 KB`, fill(p, LIMIT)]);
  for (const p of PIECES) for (const q of PIECES) out.push([`${JSON.stringify(p + q)} to 8 KB`, fill(p + q, 8192)]);
  const random = rng(16);
  for (let i = 0; i < 30; i++) {
    let s = '';
    while (s.length < LIMIT) s += PIECES[Math.floor(random() * PIECES.length)]!;
    out.push([`random mix #${i}`, s.slice(0, LIMIT)]);
  }
  return out;
}

beforeAll(async () => {
  // Code blocks are highlighted once highlight.js is there: time that too.
  const ready = new Promise<void>((resolve) => onHighlighterReady(resolve));
  loadHighlighter();
  if (!highlighterReady()) await ready;
});

describe('markdown on hostile text', () => {
  it('renders the inputs that overflowed the stack, as markdown or as plain text', () => {
    for (const [name, text] of FILED.slice(0, 5)) {
      const html = renderMarkdown(text);
      expect(html.length, name).toBeGreaterThan(0);
    }
    // The text stays readable: the "x" after 1200 list markers is there.
    expect(renderMarkdown('- '.repeat(1200) + 'x')).toContain('x');
    expect(renderMarkdown('*'.repeat(2060) + 'x' + '*'.repeat(2060))).toContain('x');
    // Nesting past the bound is shown as the text itself rather than cut off.
    expect(renderMarkdown('>'.repeat(200) + ' deep')).toContain('&gt;&gt;&gt;');
    expect(renderMarkdown('>'.repeat(200) + ' deep')).toContain('deep');
  });

  it(`parses ${PIECES.length * PIECES.length + PIECES.length + FILED.length + 30} generated inputs, none throws, each within ${BOUND_MS} ms`, () => {
    const slow: string[] = [];
    let worst = { ms: 0, name: '' };
    for (const [name, text] of nastyInputs()) {
      const t = performance.now();
      const html = markdownToHtml(text);
      const ms = performance.now() - t;
      expect(typeof html, name).toBe('string');
      if (ms > worst.ms) worst = { ms, name };
      if (ms > BOUND_MS) slow.push(`${name}: ${ms.toFixed(0)} ms`);
    }
    console.log(`slowest input: ${worst.name}, ${worst.ms.toFixed(0)} ms`);
    expect(slow).toEqual([]);
  }, 300_000);

  it('keeps markdown working: emphasis, links, code, lists, tables, task lists', () => {
    const html = renderMarkdown('**bold** _it_ ~~gone~~ `code` [site](https://example.com/a)\n\n- one\n- [x] done\n- [ ] todo\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```js\nconst a = 1;\n```');
    expect(html).toContain('<strong>bold</strong>');
    expect(html).toContain('<em>it</em>');
    expect(html).toContain('<s>gone</s>');
    expect(html).toContain('<code>code</code>');
    expect(html).toMatch(/<a href="https:\/\/example\.com\/a" target="_blank" rel="noopener noreferrer nofollow">site<\/a>/);
    expect(html).toMatch(/<input (?=[^>]*type="checkbox")(?=[^>]*checked)[^>]*>\s*done/);
    expect(html).toContain('<table>');
    expect(html).toContain('hljs-keyword');
    expect(renderMarkdown('line one\nline two')).toContain('<br>');
  });

  it('lets no script, no outside fetch and no unsafe link through', () => {
    const payloads = [
      '[x](javascript:alert(1))',
      '[x](JaVaScRiPt:alert(1))',
      '[x](  javascript:alert(1))',
      '[x](&#106;avascript:alert(1))',
      '[x](&#x6A;&#x61;vascript:alert(1))',
      '[x](java&#x09;script:alert(1))',
      '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
      '[x](vbscript:msgbox(1))',
      '<javascript:alert(1)>',
      '![x](javascript:alert(1))',
      '![x](http://outside.example/pixel.png)',
      '<img src=http://outside.example/pixel.png>',
      '<img src=x onerror="window.__pwned=1">',
      '<svg onload="window.__pwned=1">',
      '<script>window.__pwned=1</script>',
      '<noscript><p title="</noscript><img src=x onerror=window.__pwned=1>">',
      '<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=1>',
      '<form><math><mtext></form><form><mglyph><svg><mtext><style><path id="</style><img onerror=window.__pwned=1 src>">',
      '```"><img src=x onerror=window.__pwned=1>\ncode\n```',
      '```__proto__\ncode\n```',
      '```constructor\ncode\n```',
      '[a](https://ok.example/"onmouseover="window.__pwned=1)',
      '[a](<https://ok.example/ onmouseover=x>)',
      'www.outside.example/<img src=x onerror=window.__pwned=1>',
      '[x]: javascript:alert(1)\n\n[x]',
    ];
    for (const p of payloads) {
      const box = document.createElement('div');
      box.innerHTML = renderMarkdown(p);
      expect(box.querySelectorAll('script, img, svg, math, style, iframe, object, embed, form').length, p).toBe(0);
      for (const el of box.querySelectorAll('*')) {
        for (const a of el.attributes) expect(a.name.startsWith('on'), `${p}: ${a.name}`).toBe(false);
        const href = el.getAttribute('href');
        if (href !== null) expect(href, p).toMatch(/^(https?:|mailto:)/);
      }
    }
  });
});

describe('plainPreview (sidebar, replies) on hostile text', () => {
  it('takes linear time: "[" x 65536 and kin', () => {
    const inputs = [fill('[', 65536), fill('[a](', LIMIT), fill('![', LIMIT), fill('[a]', LIMIT), fill('```', LIMIT), '```' + fill('a', LIMIT), fill('](', LIMIT), fill('[a](b', LIMIT)];
    for (const text of inputs) {
      const t = performance.now();
      plainPreview(text, 90);
      expect(performance.now() - t, JSON.stringify(text.slice(0, 8))).toBeLessThan(500);
    }
  });

  it('still strips markdown', () => {
    expect(plainPreview('**Hi** see [the docs](https://x.example) ![pic](https://y.example/p.png)\n\n```js\nx\n```')).toBe('Hi see the docs [image] [code]');
  });
});
