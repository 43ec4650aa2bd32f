import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { reencodeImage } from './image.ts';
import { firstLink } from './links.ts';
import { decodeHtml, parsePageMeta } from './parse.ts';

const page = new URL('https://news.example/a/b.html');

describe('parsePageMeta', () => {
  it('reads Open Graph first, then Twitter cards, then plain HTML', () => {
    const og = parsePageMeta(
      `<html><head><title>Plain</title><meta name="description" content="plain desc">
       <meta property="og:title" content="OG &amp; title"><meta property="og:description" content="OG desc">
       <meta property="og:site_name" content="News"><meta property="og:image" content="/img/cover.png"></head></html>`,
      page,
    );
    expect(og).toEqual({ title: 'OG & title', description: 'OG desc', siteName: 'News', image: 'https://news.example/img/cover.png' });
    const twitter = parsePageMeta(`<meta name="twitter:title" content="T"><meta name="twitter:image" content="https://cdn.example/t.jpg"><title>Plain</title>`, page);
    expect(twitter).toMatchObject({ title: 'T', image: 'https://cdn.example/t.jpg', siteName: null });
    const plain = parsePageMeta(`<HTML><HEAD><TITLE>  Just   a
      title </TITLE><META NAME="Description" CONTENT="Words"></HEAD>`, page);
    expect(plain).toEqual({ title: 'Just a title', description: 'Words', siteName: null, image: null });
  });

  it('keeps only http(s) images, cleans and caps text, and survives a page cut in the middle', () => {
    const meta = parsePageMeta(`<meta property="og:image" content="javascript:alert(1)"><meta property="og:title" content="${'x'.repeat(1000)}"><meta property="og:description" content="a\u0007b\u202ec\n\n d">`, page);
    expect(meta.image).toBeNull();
    expect(meta.title!.length).toBeLessThanOrEqual(300);
    expect(meta.description).toBe('a b c d');
    const cut = parsePageMeta('<head><meta property="og:title" content="Kept"><meta property="og:desc', page);
    expect(cut.title).toBe('Kept');
  });

  it('decodes the declared character set', () => {
    const latin1 = Buffer.from('<meta charset="windows-1252"><title>Caf\xe9</title>', 'latin1');
    expect(parsePageMeta(decodeHtml(latin1, 'text/html'), page).title).toBe('Café');
    const sjis = Buffer.from([...Buffer.from('<title>'), 0x93, 0xfa, 0x96, 0x7b, ...Buffer.from('</title>')]);
    expect(parsePageMeta(decodeHtml(sjis, 'text/html; charset=Shift_JIS'), page).title).toBe('日本');
    expect(parsePageMeta(decodeHtml(Buffer.from('<title>ok</title>'), 'text/html; charset=no-such-set'), page).title).toBe('ok');
  });
});

describe('firstLink', () => {
  it.each([
    ['see https://example.com/a?b=1, thanks', 'https://example.com/a?b=1'],
    ['(https://example.com/x)', 'https://example.com/x'],
    ['[docs](https://example.com/docs) and http://other.example', 'https://example.com/docs'],
    ['first http://one.example then https://two.example', 'http://one.example'],
    ['`https://in.code.example` then https://out.example.', 'https://out.example'],
    ['```\nhttps://in.block.example\n```\nhttps://after.example', 'https://after.example'],
    ['no scheme example.com, mail me@example.com, ftp://files.example', null],
    ['', null],
  ])('%j → %j', (text, link) => {
    expect(firstLink(text)).toBe(link);
  });
});

describe('reencodeImage', () => {
  it('re-encodes to WebP within the size, dropping the metadata', async () => {
    const original = await sharp({ create: { width: 1600, height: 900, channels: 3, background: '#3366cc' } })
      .jpeg()
      .withExif({ IFD0: { Copyright: 'secret camera owner', Artist: 'someone' } })
      .toBuffer();
    expect((await sharp(original).metadata()).exif).toBeDefined();
    const image = await reencodeImage(original, { maxPx: 480, maxInputPixels: 40_000_000 });
    expect(image).toMatchObject({ contentType: 'image/webp', width: 480, height: 270 });
    const meta = await sharp(image!.bytes).metadata();
    expect(meta.format).toBe('webp');
    expect(meta.exif).toBeUndefined();
    expect(image!.bytes.includes(Buffer.from('secret camera owner'))).toBe(false);
  });

  it('refuses SVG, garbage, a cut-off file and one over the pixel limit', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    expect(await reencodeImage(svg, { maxPx: 480, maxInputPixels: 40_000_000 })).toBeUndefined();
    expect(await reencodeImage(Buffer.from('not an image at all'), { maxPx: 480, maxInputPixels: 40_000_000 })).toBeUndefined();
    const png = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#ff0000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer();
    expect(await reencodeImage(png.subarray(0, png.length / 2), { maxPx: 480, maxInputPixels: 40_000_000 })).toBeUndefined();
    expect(await reencodeImage(png, { maxPx: 480, maxInputPixels: 10_000 })).toBeUndefined();
  });
});
