import type { Attachment } from '@confab/protocol';
import { useConfabClient } from '@confab/client/react';
import { useEffect, useState } from 'react';
import { humanError } from '../lib/errors.ts';
import { attachmentUrl, downloadAttachment, formatBytes } from '../lib/files.ts';
import { Icon } from '../ui/Icon.tsx';
import { Modal } from '../ui/Modal.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';

function useBlobUrl(id: string, variant: 'original' | 'preview', enabled = true) {
  const client = useConfabClient();
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (!enabled) return;
    let cancelled = false;
    attachmentUrl(client, id, variant).then(
      (u) => !cancelled && setUrl(u),
      () => !cancelled && setFailed(true),
    );
    return () => {
      cancelled = true;
    };
  }, [client, id, variant, enabled]);
  return { url, failed };
}

function ImageAttachment({ a }: { a: Attachment }) {
  const { url, failed } = useBlobUrl(a.id, a.hasPreview === false ? 'original' : 'preview');
  const [open, setOpen] = useState(false);
  const ratio = a.width && a.height ? a.width / a.height : 4 / 3;
  const width = Math.min(320, Math.max(120, ratio * 220));
  return (
    <>
      <button type="button" className="att-image" style={{ width, aspectRatio: String(ratio) }} onClick={() => setOpen(true)} aria-label={`Open image ${a.name}`}>
        {url ? <img src={url} alt={a.name} /> : failed ? <span className="att-failed">Image unavailable</span> : <span className="sk att-sk" />}
      </button>
      {open && <Lightbox a={a} onClose={() => setOpen(false)} />}
    </>
  );
}

function Lightbox({ a, onClose }: { a: Attachment; onClose: () => void }) {
  const client = useConfabClient();
  const { url } = useBlobUrl(a.id, 'original');
  return (
    <Modal title={a.name} onClose={onClose} wide className="lightbox">
      <div className="lightbox-body">{url ? <img src={url} alt={a.name} /> : <Spinner size={28} label="Loading image" />}</div>
      <div className="modal-actions">
        <button type="button" className="btn" onClick={() => downloadAttachment(client, a).catch((e: unknown) => toast(humanError(e), 'error'))}>
          <Icon name="download" /> Download ({formatBytes(a.size)})
        </button>
      </div>
    </Modal>
  );
}

function AudioAttachment({ a, voice }: { a: Attachment; voice: boolean }) {
  const [load, setLoad] = useState(false);
  const { url, failed } = useBlobUrl(a.id, 'original', load);
  const secs = a.durationMs ? Math.round(a.durationMs / 1000) : null;
  const label = secs !== null ? `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}` : formatBytes(a.size);
  if (url) {
    return <audio className="att-audio" controls autoPlay src={url} aria-label={voice ? 'Voice message' : a.name} />;
  }
  return (
    <button type="button" className="att-voice" onClick={() => setLoad(true)} aria-label={`Play ${voice ? 'voice message' : a.name} (${label})`}>
      {load && !failed ? <Spinner size={16} /> : <Icon name="play" size={16} />}
      <span className="att-wave" aria-hidden="true" />
      <span>{failed ? 'Unavailable' : label}</span>
    </button>
  );
}

function FileAttachment({ a }: { a: Attachment }) {
  const client = useConfabClient();
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      className="att-file"
      onClick={() => {
        setBusy(true);
        downloadAttachment(client, a)
          .catch((e: unknown) => toast(humanError(e), 'error'))
          .finally(() => setBusy(false));
      }}
      aria-label={`Download ${a.name}, ${formatBytes(a.size)}`}
    >
      <Icon name="file" size={22} />
      <span className="att-file-names">
        <strong>{a.name}</strong>
        <span>{formatBytes(a.size)}</span>
      </span>
      {busy ? <Spinner size={14} /> : <Icon name="download" size={16} />}
    </button>
  );
}

export function Attachments({ attachments, kind }: { attachments: readonly Attachment[]; kind: string }) {
  if (attachments.length === 0) return null;
  return (
    <div className="attachments">
      {attachments.map((a) =>
        // An SVG is a document (scripts, outside references), not a picture we show inline: a file chip.
        a.type.startsWith('image/') && a.type !== 'image/svg+xml' ? (
          <ImageAttachment key={a.id} a={a} />
        ) : a.type.startsWith('audio/') ? (
          <AudioAttachment key={a.id} a={a} voice={kind === 'voice'} />
        ) : isText(a) ? (
          <div key={a.id} className="att-with-text">
            <FileAttachment a={a} />
            <TextSnippet a={a} />
          </div>
        ) : (
          <FileAttachment key={a.id} a={a} />
        ),
      )}
    </div>
  );
}

const TEXT_TYPES = new Set(['application/pdf', 'application/json', 'application/xml', 'application/javascript', 'application/x-ndjson', 'application/yaml']);

/** Text and PDF files: the server extracts their text, whose beginning shows under the chip. */
function isText(a: Attachment): boolean {
  return a.type.startsWith('text/') || TEXT_TYPES.has(a.type.split(';')[0]!.trim());
}

/** The first lines of a text or PDF file under its chip, as plain text (never rendered as markup). */
function TextSnippet({ a }: { a: Attachment }) {
  const client = useConfabClient();
  const [text, setText] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    client.api.attachmentText(a.id).then(
      (r) => !cancelled && setText((r.text ?? '').split('\n').slice(0, 8).join('\n').slice(0, 600)),
      () => !cancelled && setText(''),
    );
    return () => {
      cancelled = true;
    };
  }, [client, a.id]);
  if (text === null) return <span className="sk att-text-sk" aria-hidden="true" />;
  if (!text.trim()) return null;
  return (
    <pre className="att-text" aria-label={`Beginning of ${a.name}`}>
      {text}
    </pre>
  );
}
