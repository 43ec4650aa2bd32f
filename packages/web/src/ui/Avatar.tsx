import type { Presence } from '@confab/client';
import { Icon } from './Icon.tsx';

/** A stable hue per id, for avatars without a picture. */
function hueOf(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % 360;
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '?';
  const first = [...parts[0]!][0] ?? '?';
  const second = parts.length > 1 ? ([...parts[parts.length - 1]!][0] ?? '') : '';
  return (first + second).toUpperCase();
}

/**
 * Initials on a colour derived from the id. A picture is shown only from this origin or a data:
 * URL: the page's CSP loads no outside image (a profile URL elsewhere could track readers).
 */
export function Avatar({
  id,
  name,
  url,
  size = 36,
  presence,
  kind = 'user',
}: {
  id: string;
  name: string;
  url?: string | null | undefined;
  size?: number;
  presence?: Presence['status'] | undefined;
  kind?: 'user' | 'group' | 'assistant';
}) {
  const local = url && (url.startsWith('/') || url.startsWith('data:image/'));
  const style = { width: size, height: size, fontSize: Math.round(size * 0.4), '--hue': String(hueOf(id)) } as React.CSSProperties;
  return (
    <span className={`avatar avatar-${kind}`} style={style} aria-hidden="true">
      {kind === 'assistant' ? <Icon name="sparkles" size={Math.round(size * 0.55)} /> : local ? <img src={url} alt="" /> : initials(name)}
      {presence && presence !== 'unknown' && <span className={`presence-dot ${presence}`} />}
    </span>
  );
}
