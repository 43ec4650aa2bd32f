import { memo, useLayoutEffect, useMemo, useRef, useSyncExternalStore } from 'react';
import { linkChannels, useChannelIndex } from '../channels/channelIndex.ts';
import { navigate } from '../state/router.ts';
import { toast } from '../ui/toast.tsx';
import { highlighterReady, onHighlighterReady, renderMarkdown } from '../lib/markdown.ts';
import type { MentionMarks } from '../lib/mentionMarks.ts';
import { copyText } from '../lib/clipboard.ts';

/** Sanitized markdown (see markdown.ts). Copy buttons of code blocks work by delegation. */
export const Markdown = memo(function Markdown({ text, streaming = false, mentions }: { text: string; streaming?: boolean; mentions?: MentionMarks | undefined }) {
  // `#channel` of a known public channel becomes a link (channels/channelIndex.ts).
  const channels = useChannelIndex();
  return <MarkdownBody text={text} streaming={streaming} mentions={mentions} channels={channels} />;
});

/**
 * The same rendering for pages read without signing in (a shared snapshot, shared/SharedPage.tsx):
 * no channel links, which need the signed-in directory and lead to pages a reader cannot open.
 */
export const PublicMarkdown = memo(function PublicMarkdown({ text }: { text: string }) {
  return <MarkdownBody text={text} streaming={false} mentions={undefined} channels={null} />;
});

function MarkdownBody({
  text,
  streaming,
  mentions,
  channels,
}: {
  text: string;
  streaming: boolean;
  mentions: MentionMarks | undefined;
  channels: ReturnType<typeof useChannelIndex> | null;
}) {
  // Renders again once highlight.js has loaded (only messages with code blocks need it).
  const ready = useSyncExternalStore(onHighlighterReady, highlighterReady);
  const html = useMemo(() => renderMarkdown(text, streaming, mentions), [text, streaming, ready, mentions?.key]);
  const root = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    if (channels && root.current && linkChannels(root.current, channels.index)) channels.refresh();
  }, [html, channels]);
  return (
    <div
      ref={root}
      className="md"
      onClick={(e) => {
        const target = e.target as HTMLElement;
        const channel = target.closest<HTMLAnchorElement>('a[data-channel-id]');
        if (channel && !e.ctrlKey && !e.metaKey && !e.shiftKey) {
          e.preventDefault();
          navigate(`/c/${encodeURIComponent(channel.dataset.channelId!)}`);
          return;
        }
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
}
