import { memo, useMemo, useSyncExternalStore } from 'react';
import { toast } from '../ui/toast.tsx';
import { highlighterReady, onHighlighterReady, renderMarkdown } from '../lib/markdown.ts';
import { copyText } from '../lib/clipboard.ts';

/** Sanitized markdown (see markdown.ts). Copy buttons of code blocks work by delegation. */
export const Markdown = memo(function Markdown({ text, streaming = false }: { text: string; streaming?: boolean }) {
  // Renders again once highlight.js has loaded (only messages with code blocks need it).
  const ready = useSyncExternalStore(onHighlighterReady, highlighterReady);
  const html = useMemo(() => renderMarkdown(text, streaming), [text, streaming, ready]);
  return (
    <div
      className="md"
      onClick={(e) => {
        const target = e.target as HTMLElement;
        if (target.matches('button[data-copy]')) {
          const code = target.closest('.code-block')?.querySelector('code')?.textContent ?? '';
          copyText(code).then(
            () => {
              target.textContent = 'Copied';
              setTimeout(() => (target.textContent = 'Copy'), 1500);
            },
            () => toast('Could not copy to the clipboard.', 'error'),
          );
        }
      }}
      // Sanitized by DOMPurify in renderMarkdown.
      dangerouslySetInnerHTML={{ __html: html }}
    />
  );
});
