import { ConfabError, type ConfabClient } from '@confab/client';
import type { Attachment } from '@confab/protocol';

/**
 * Files are the one place the app leaves the SDK: the SDK's `request` speaks JSON, and an upload
 * (raw bytes to the ticket's URL) or a download (an image or audio file) is not JSON. The ticket
 * goes through the SDK (which also refreshes the token when it is close to expiry), and the bytes
 * go with the token the SDK holds. Downloads need the token too (attachments are for members only),
 * so previews are fetched as blobs and shown from blob: URLs, which the page's CSP allows.
 */
interface Ticket {
  attachmentId: string;
  uploadUrl: string;
}

function token(client: ConfabClient): string {
  const t = client.tokens?.accessToken;
  if (!t) throw new ConfabError('UNAUTHENTICATED', 'not signed in');
  return t;
}

async function errorOf(res: Response): Promise<ConfabError> {
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  const code = body?.error?.code;
  const known = ['VALIDATION_ERROR', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'PAYLOAD_TOO_LARGE', 'RATE_LIMITED', 'UNAVAILABLE', 'INTERNAL'];
  return new ConfabError(
    (code && known.includes(code) ? code : res.status === 413 ? 'PAYLOAD_TOO_LARGE' : res.status >= 500 ? 'UNAVAILABLE' : 'INTERNAL') as ConfabError['code'],
    body?.error?.message ?? `HTTP ${res.status}`,
  );
}

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
  const body: Record<string, unknown> = { conversationId, name: file.name || 'file', type, size: file.size };
  if (type.startsWith('audio/')) {
    const ms = await audioDuration(file);
    if (ms !== undefined) body.durationMs = ms;
  }
  const ticket = await client.request<Ticket>('POST', '/api/attachments', body);
  let res: Response;
  try {
    res = await fetch(ticket.uploadUrl, { method: 'PUT', body: file, headers: { authorization: `Bearer ${token(client)}`, 'content-type': type } });
  } catch {
    throw new ConfabError('UNAVAILABLE', 'network error while uploading');
  }
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as Attachment;
}

const blobs = new Map<string, Promise<string>>();

/** A blob: URL for an attachment (or its preview), fetched once per page. */
export function attachmentUrl(client: ConfabClient, id: string, variant: 'original' | 'preview'): Promise<string> {
  const key = `${id}:${variant}`;
  let p = blobs.get(key);
  if (!p) {
    p = (async () => {
      const path = `/api/attachments/${encodeURIComponent(id)}${variant === 'preview' ? '/preview' : ''}`;
      const res = await fetch(client.url + path, { headers: { authorization: `Bearer ${token(client)}` } });
      if (!res.ok) throw await errorOf(res);
      return URL.createObjectURL(await res.blob());
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
