/** File limits and storage, from the environment (see docs/files-and-notifications.md). */
export interface FilesOptions {
  /** Largest file, in bytes (CONFAB_MAX_FILE_BYTES, default 25 MB). */
  maxFileBytes: number;
  /** Attachments per message (the protocol caps `attachmentIds` at 10 too). */
  maxPerMessage: number;
  /** How long an upload URL works (CONFAB_UPLOAD_URL_TTL seconds, default 600). */
  uploadUrlTtlSeconds: number;
  /** Longest side of an image preview, in pixels. */
  previewMaxPx: number;
  /** Larger images (in pixels) are stored as files, not decoded: a decompression bomb costs nothing. */
  maxImagePixels: number;
  /** Extracted text is cut at this many characters. */
  maxTextChars: number;
  /** Files a user may upload per hour (CONFAB_UPLOADS_PER_HOUR, default 200; counted when the ticket is asked for). */
  uploadsPerHour: number;
  /** Bytes a user may upload per day (CONFAB_UPLOAD_BYTES_PER_DAY, default 1 GiB; the tickets' declared sizes). */
  uploadBytesPerDay: number;
  /** PDF text extraction reads at most this many pages (CONFAB_PDF_MAX_PAGES, default 200). */
  pdfMaxPages: number;
  /** ...and stops after this long (CONFAB_PDF_TIMEOUT_MS, default 10 s); the text read so far is kept. */
  pdfTimeoutMs: number;
  /** Uploads never attached to a message are deleted after this long. */
  abandonedAfterMs: number;
  /** S3-compatible storage instead of DATA_DIR/files when set. */
  s3: S3Options | undefined;
}

export interface S3Options {
  /** e.g. https://s3.eu-west-1.amazonaws.com, or http://minio:9000 */
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Key prefix inside the bucket, e.g. "confab/". */
  prefix: string;
  /** https://endpoint/bucket/key (default; MinIO and most others) rather than https://bucket.endpoint/key. */
  pathStyle: boolean;
}

export const DEFAULT_FILES_OPTIONS: FilesOptions = {
  maxFileBytes: 25 * 1024 * 1024,
  maxPerMessage: 10,
  uploadUrlTtlSeconds: 600,
  previewMaxPx: 512,
  maxImagePixels: 50_000_000,
  maxTextChars: 500_000,
  uploadsPerHour: 200,
  uploadBytesPerDay: 1024 * 1024 * 1024,
  pdfMaxPages: 200,
  pdfTimeoutMs: 10_000,
  abandonedAfterMs: 24 * 60 * 60 * 1000,
  s3: undefined,
};

function positiveInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${value}`);
  return n;
}

export function loadFilesOptions(env: NodeJS.ProcessEnv): Partial<FilesOptions> {
  const out: Partial<FilesOptions> = {};
  const max = positiveInt(env.CONFAB_MAX_FILE_BYTES, 'CONFAB_MAX_FILE_BYTES');
  if (max !== undefined) out.maxFileBytes = max;
  const ttl = positiveInt(env.CONFAB_UPLOAD_URL_TTL, 'CONFAB_UPLOAD_URL_TTL');
  if (ttl !== undefined) out.uploadUrlTtlSeconds = ttl;
  const numbers = [
    ['CONFAB_UPLOADS_PER_HOUR', 'uploadsPerHour'],
    ['CONFAB_UPLOAD_BYTES_PER_DAY', 'uploadBytesPerDay'],
    ['CONFAB_PDF_MAX_PAGES', 'pdfMaxPages'],
    ['CONFAB_PDF_TIMEOUT_MS', 'pdfTimeoutMs'],
  ] as const;
  for (const [name, key] of numbers) {
    const value = positiveInt(env[name], name);
    if (value !== undefined) out[key] = value;
  }
  if (env.CONFAB_S3_BUCKET) {
    const missing = ['CONFAB_S3_ENDPOINT', 'CONFAB_S3_ACCESS_KEY_ID', 'CONFAB_S3_SECRET_ACCESS_KEY'].filter((k) => !env[k]);
    if (missing.length > 0) throw new Error(`CONFAB_S3_BUCKET is set, so ${missing.join(', ')} must be too`);
    out.s3 = {
      endpoint: env.CONFAB_S3_ENDPOINT!,
      bucket: env.CONFAB_S3_BUCKET,
      region: env.CONFAB_S3_REGION || 'us-east-1',
      accessKeyId: env.CONFAB_S3_ACCESS_KEY_ID!,
      secretAccessKey: env.CONFAB_S3_SECRET_ACCESS_KEY!,
      prefix: env.CONFAB_S3_PREFIX ?? '',
      pathStyle: (env.CONFAB_S3_PATH_STYLE ?? 'true') !== 'false',
    };
  }
  return out;
}
