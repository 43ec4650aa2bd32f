/**
 * Copies text. `navigator.clipboard` exists only in secure contexts (https, or localhost): a Confab
 * served over plain http on a LAN address has none, and `navigator.clipboard.writeText` then threw
 * before anything happened, so Copy did nothing. There, and when the browser refuses, the text is
 * copied through a hidden text area and `execCommand('copy')` (deprecated but still supported, and
 * the only way without the Clipboard API), inside the same click.
 */
export async function copyText(text: string): Promise<void> {
  if (typeof navigator !== 'undefined' && navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      /* refused (no permission, document not focused): try the fallback */
    }
  }
  if (!copyWithTextArea(text)) throw new Error('copy refused');
}

function copyWithTextArea(text: string): boolean {
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.top = '-1000px';
  area.style.opacity = '0';
  const focused = document.activeElement as HTMLElement | null;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  focused?.focus?.();
  return ok;
}
