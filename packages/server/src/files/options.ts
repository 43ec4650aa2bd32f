/** File limits and storage (see docs/files-and-notifications.md); the environment's values come through config.ts. */
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
