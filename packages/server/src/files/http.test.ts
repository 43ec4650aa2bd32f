import { describe, expect, it } from 'vitest';
import { contentDisposition, parseRange, sanitizeFileName } from './http.ts';
import { looksLikeText, markupType } from './sniff.ts';

describe('file names', () => {
  it('keeps the last path segment, without control or bidi characters', () => {
    expect(sanitizeFileName('../../etc/passwd')).toBe('passwd');
    expect(sanitizeFileName('C:\\Users\\me\\photo.jpg')).toBe('photo.jpg');
    expect(sanitizeFileName('a\u0000b\nc.txt')).toBe('abc.txt');
    expect(sanitizeFileName('...hidden')).toBe('hidden');
    expect(sanitizeFileName('   ')).toBe('file');
    expect(sanitizeFileName('x'.repeat(500))).toHaveLength(200);
  });

  it('encodes Content-Disposition per RFC 6266/5987', () => {
    expect(contentDisposition('attachment', 'naïve "plan" 100%.pdf')).toBe(
      `attachment; filename="na_ve _plan_ 100_.pdf"; filename*=UTF-8''na%C3%AFve%20%22plan%22%20100%25.pdf`,
    );
    expect(contentDisposition('inline', "it's (1).png")).toBe(`inline; filename="it's (1).png"; filename*=UTF-8''it%27s%20%281%29.png`);
  });
});

describe('ranges', () => {
  it('parses one range and refuses what cannot be served', () => {
    expect(parseRange(undefined, 100)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(parseRange('bytes=90-200', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=50-', 100)).toEqual({ kind: 'partial', start: 50, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=-500', 100)).toEqual({ kind: 'partial', start: 0, end: 99 });
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-1,5-6', 100)).toEqual({ kind: 'full' });
    expect(parseRange('items=0-1', 100)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=9-3', 100)).toEqual({ kind: 'full' });
  });
});

describe('sniffing text', () => {
  it('tells text from binary and finds markup', () => {
    expect(looksLikeText(Buffer.from('hello\nworld\t'))).toBe(true);
    expect(looksLikeText(Buffer.from([0x68, 0x00, 0x69]))).toBe(false);
    expect(looksLikeText(Buffer.from([0xff, 0xfe, 0x41]))).toBe(false);
    expect(looksLikeText(Buffer.from('héllo').subarray(0, 2))).toBe(true);
    expect(markupType(Buffer.from('  <!DOCTYPE html><p>'))).toBe('text/html');
    expect(markupType(Buffer.from('some text <script>alert(1)</script>'))).toBe('text/html');
    expect(markupType(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg">'))).toBe('image/svg+xml');
    expect(markupType(Buffer.from('<?xml version="1.0"?><a/>'))).toBe('application/xml');
    expect(markupType(Buffer.from('1 < 2 and 3 > 2'))).toBeUndefined();
  });
});
