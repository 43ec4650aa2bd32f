/**
 * A preview image as Confab serves it: decoded by sharp (libvips) with a pixel limit (a
 * decompression bomb fails instead of filling memory), only from the raster formats browsers
 * show (no SVG: it is a document, not a picture), its first frame, turned upright, scaled to fit
 * `maxPx`, and written anew as WebP. Nothing of the original file but its pixels remains: sharp
 * writes no metadata (EXIF, XMP, ICC comments) unless asked to.
 */
export interface PreviewImage {
  contentType: 'image/webp';
  bytes: Buffer;
  width: number;
  height: number;
}

const FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'avif', 'heif']);

export async function reencodeImage(input: Buffer, opts: { maxPx: number; maxInputPixels: number }): Promise<PreviewImage | undefined> {
  const { default: sharp } = await import('sharp');
  const open = () => sharp(input, { limitInputPixels: opts.maxInputPixels, failOn: 'error', animated: false, sequentialRead: true });
  try {
    const meta = await open().metadata();
    if (!meta.format || !FORMATS.has(meta.format) || !meta.width || !meta.height) return undefined;
    const { data, info } = await open()
      .rotate()
      .resize({ width: opts.maxPx, height: opts.maxPx, fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 80 })
      .toBuffer({ resolveWithObject: true });
    return { contentType: 'image/webp', bytes: data, width: info.width, height: info.height };
  } catch {
    // Corrupt, cut short at the byte limit, or over the pixel limit: the preview goes without an image.
    return undefined;
  }
}
