import type { ConfabClient } from '@confab/client';
import type { Attachment, CreateAttachmentBody } from '@confab/protocol';

/**
 * Files go through the SDK too: the ticket, the upload (raw bytes to the ticket's path) and the
 * downloads, each with the session's token (refreshed when close to expiry). Downloads need the
 * token (attachments are for members only), so previews are fetched as blobs and shown from blob:
 * URLs, which the page's CSP allows.
 */

/** Measures an audio file's length (voice notes need it), or undefined when the browser can't tell. */
export function audioDuration(file: Blob): Promise<number | undefined> {
  return new Promise((resolve) => {
    const url = URL.createObjectURL(file);
    const audio = new Audio();
    const done = (ms: number | undefined) => {
      URL.revokeObjectURL(url);
      resolve(ms);
    };
    audio.preload = 'metadata';
    audio.onloadedmetadata = () => done(Number.isFinite(audio.duration) ? Math.round(audio.duration * 1000) : undefined);
    audio.onerror = () => done(undefined);
    setTimeout(() => done(undefined), 3000);
    audio.src = url;
  });
}

export async function uploadFile(client: ConfabClient, conversationId: string, file: File): Promise<Attachment> {
  const type = file.type || 'application/octet-stream';
  const body: CreateAttachmentBody = { conversationId, name: file.name || 'file', type, size: file.size };
  if (type.startsWith('audio/')) {
    const ms = await audioDuration(file);
    if (ms !== undefined) body.durationMs = ms;
  }
  const ticket = await client.api.createAttachment(body);
  return client.api.uploadAttachment(ticket, file, type);
}

const blobs = new Map<string, Promise<string>>();

/** A blob: URL for an attachment (or its preview), fetched once per page. */
export function attachmentUrl(client: ConfabClient, id: string, variant: 'original' | 'preview'): Promise<string> {
  const key = `${id}:${variant}`;
  let p = blobs.get(key);
  if (!p) {
    p = (async () => {
      return URL.createObjectURL(await client.api.downloadAttachment(id, variant));
    })();
    p.catch(() => blobs.delete(key));
    blobs.set(key, p);
  }
  return p;
}

export async function downloadAttachment(client: ConfabClient, a: Attachment): Promise<void> {
  const url = await attachmentUrl(client, a.id, 'original');
  const link = document.createElement('a');
  link.href = url;
  link.download = a.name;
  document.body.append(link);
  link.click();
  link.remove();
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
