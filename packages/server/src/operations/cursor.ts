import { ConfabError } from '@confab/protocol';

/**
 * Keyset cursors for lists newest first (audit log, reports, admin users): the last item's sort key
 * (a timestamp as text, full precision, or any string) and its id, opaque to clients.
 */
export function encodeCursor(key: string, id: string): string {
  return Buffer.from(JSON.stringify([key, id])).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): { key: string; id: string } | undefined {
  if (cursor === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string') return { key: parsed[0], id: parsed[1] };
  } catch {
    // answered below
  }
  throw new ConfabError('VALIDATION_ERROR', 'cursor is not one this server gave out');
}
