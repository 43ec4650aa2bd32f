import type { Metadata } from 'sharp';

/**
 * Images are decoded once on upload: dimensions are recorded, a small WebP preview is made, and
 * the original is re-encoded without its metadata. Re-encoding is what strips EXIF (GPS position,
 * camera serial numbers), XMP and IPTC from the stored original, not only from the preview: sharp
 * writes no metadata unless asked to, and `.rotate()` first applies the EXIF orientation so the
 * picture still stands upright without it. GIFs carry no EXIF and are kept as they are
 * (re-encoding an animation costs a lot for nothing); HEIC/HEIF, AVIF (slow to encode) and TIFF
 * become JPEG, or PNG when they have transparency, which every browser shows.
 */
export interface ProcessedImage {
  /** The stored type (may differ from the uploaded one, see above). */
  type: string;
  width: number;
  height: number;
  /** The file to store as the original: re-encoded, or the upload itself for GIFs. */
  originalPath: string;
  previewPath: string;
}

export interface ImageLimits {
  previewMaxPx: number;
  maxImagePixels: number;
}

/** libvips is multi-threaded already; two images at a time keep memory bounded on small hosts. */
const MAX_PARALLEL = 2;
let active = 0;
const waiting: Array<() => void> = [];
async function withSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (active >= MAX_PARALLEL) await new Promise<void>((resolve) => waiting.push(resolve));
  active++;
  try {
    return await fn();
  } finally {
    active--;
    waiting.shift()?.();
  }
}

export const EXTENSION_OF: Record<string, string> = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp', 'image/gif': 'gif' };

/**
 * Returns undefined when the image cannot be decoded (corrupt, or over the pixel limit, which
 * protects against decompression bombs): the caller then stores it as an opaque download.
 */
export async function processImage(input: string, type: string, out: { original: string; preview: string }, limits: ImageLimits): Promise<ProcessedImage | undefined> {
  // Loaded on first use: it would otherwise lengthen every start-up (docs/benchmarks.md).
  const { default: sharp } = await import('sharp');
  return withSlot(async () => {
    const open = (animated: boolean) => sharp(input, { limitInputPixels: limits.maxImagePixels, failOn: 'error', animated });
    let meta: Metadata;
    try {
      meta = await open(false).metadata();
    } catch {
      return undefined;
    }
    if (!meta.width || !meta.height || meta.width * (meta.pageHeight ?? meta.height) > limits.maxImagePixels) return undefined;
    const pages = meta.pages ?? 1;
    try {
      let storedType: string;
      let width: number;
      let height: number;
      let originalPath = out.original;
      if (type === 'image/gif') {
        storedType = type;
        width = meta.width;
        height = meta.pageHeight ?? meta.height;
        originalPath = input;
      } else {
        const animated = pages > 1 && type === 'image/webp';
        let pipeline = open(animated);
        // Orientation is applied to the pixels (it lived in the EXIF that is being dropped).
        if (!animated) pipeline = pipeline.rotate();
        if (type === 'image/jpeg') {
          storedType = 'image/jpeg';
          pipeline = pipeline.jpeg({ quality: 90 });
        } else if (type === 'image/png') {
          storedType = 'image/png';
          pipeline = pipeline.png();
        } else if (type === 'image/webp') {
          storedType = 'image/webp';
          pipeline = pipeline.webp({ quality: 90 });
        } else if (meta.hasAlpha) {
          storedType = 'image/png';
          pipeline = pipeline.png();
        } else {
          storedType = 'image/jpeg';
          pipeline = pipeline.jpeg({ quality: 90 });
        }
        const info = await pipeline.toFile(out.original);
        width = info.width;
        height = animated ? (meta.pageHeight ?? info.height) : info.height;
      }
      // From the stripped original: the preview cannot carry anything the original lost.
      await sharp(originalPath, { limitInputPixels: limits.maxImagePixels, failOn: 'error' })
        .resize(limits.previewMaxPx, limits.previewMaxPx, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 75 })
        .toFile(out.preview);
      return { type: storedType, width, height, originalPath, previewPath: out.preview };
    } catch {
      return undefined;
    }
  });
}
