import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';

export class UploadTooLargeError extends Error {
  override readonly name = 'UploadTooLargeError';
}
export class UploadAbortedError extends Error {
  override readonly name = 'UploadAbortedError';
}

/**
 * Streams `source` into a new file, counting bytes as they arrive: the moment the count passes
 * `limit`, reading stops (UploadTooLargeError) with at most one chunk over the limit on disk,
 * never the whole body. On that error the source is paused, not destroyed: destroying a request
 * destroys its socket, and the client would get no 413. The caller answers and then closes it.
 * Resolves with the byte count once everything is on disk.
 */
export async function receiveToFile(source: Readable, dest: string, limit: number): Promise<number> {
  const out = createWriteStream(dest, { flags: 'wx', mode: 0o600 });
  let bytes = 0;
  let failure: Error | undefined;
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const detach = () => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      source.off('close', onClose);
      out.off('drain', onDrain);
      out.off('error', onOutError);
    };
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      detach();
      source.pause();
      failure = error;
      out.destroy();
      // Wait for the file to be closed, so the caller can delete it.
      finished(out).then(
        () => reject(error),
        () => reject(error),
      );
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limit) return fail(new UploadTooLargeError(`more than ${limit} bytes`));
      if (!out.write(chunk)) source.pause();
    };
    const onDrain = () => {
      if (!settled) source.resume();
    };
    const onEnd = () => {
      if (settled) return;
      settled = true;
      detach();
      out.on('error', reject);
      out.end(() => resolve());
    };
    const onError = (error: Error) => fail(new UploadAbortedError(error.message));
    // 'close' without 'end': the client went away mid-upload.
    const onClose = () => fail(new UploadAbortedError('the upload was cut short'));
    const onOutError = (error: Error) => fail(error);
    source.on('data', onData);
    source.once('end', onEnd);
    source.once('error', onError);
    source.once('close', onClose);
    out.on('drain', onDrain);
    out.once('error', onOutError);
    source.resume();
  });
  if (failure) throw failure;
  return bytes;
}
