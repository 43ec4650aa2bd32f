import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';

/**
 * Where attachment bytes live: local disk (DATA_DIR/files) on one node, S3-compatible object
 * storage for several. Keys are `<conversationId>/<attachmentId>/<variant>` made of server ids
 * only, never of anything a client named, and are checked again here before they reach a path.
 */
export interface FileStore {
  readonly kind: 'local' | 's3';
  /** Local scratch directory for uploads being received and processed. */
  readonly tmpDir: string;
  /** Stores a finished local file under `key` (the source file is consumed). */
  put(key: string, sourcePath: string, contentType: string): Promise<void>;
  /** The object's bytes, or the inclusive byte range. Throws FileNotFoundError when missing. */
  get(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Deletes objects; missing ones are not an error. */
  delete(keys: string[]): Promise<void>;
  /** Removes scratch files left by uploads whose process died. */
  sweepTmp(): Promise<void>;
}

export type Variant = 'original' | 'preview';

export class FileNotFoundError extends Error {
  override readonly name = 'FileNotFoundError';
}

const KEY = /^[A-Za-z0-9_-]{1,64}\/[A-Za-z0-9_-]{1,64}\/(original|preview)$/;

export function objectKey(conversationId: string, attachmentId: string, variant: Variant): string {
  const key = `${conversationId}/${attachmentId}/${variant}`;
  assertKey(key);
  return key;
}

export function assertKey(key: string): void {
  if (!KEY.test(key)) throw new Error(`not a file store key: ${JSON.stringify(key)}`);
}

/** Temp files older than this belong to uploads that died with their process. */
const STALE_TMP_MS = 24 * 60 * 60 * 1000;

export async function sweepTmpDir(tmpDir: string): Promise<void> {
  const names = await readdir(tmpDir).catch(() => [] as string[]);
  for (const name of names) {
    const file = path.join(tmpDir, name);
    const info = await stat(file).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > STALE_TMP_MS) await unlink(file).catch(() => {});
  }
}

export function createLocalFileStore(root: string): FileStore & { root: string } {
  const tmpDir = path.join(root, '.tmp');
  const pathOf = (key: string) => {
    assertKey(key);
    return path.join(root, ...key.split('/'));
  };
  return {
    kind: 'local',
    root,
    tmpDir,
    async put(key, sourcePath) {
      const dest = pathOf(key);
      await mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
      try {
        await rename(sourcePath, dest);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
        await copyFile(sourcePath, dest);
        await unlink(sourcePath);
      }
    },
    async get(key, range) {
      const stream = createReadStream(pathOf(key), range ? { start: range.start, end: range.end } : {});
      // Surface "missing" as an error of this call rather than of the stream later.
      await new Promise<void>((resolve, reject) => {
        stream.once('open', () => resolve());
        stream.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ENOENT' ? new FileNotFoundError(key) : error));
      });
      return stream;
    },
    async delete(keys) {
      const dirs = new Set<string>();
      for (const key of keys) {
        const file = pathOf(key);
        await unlink(file).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
        });
        dirs.add(path.dirname(file));
      }
      // Empty attachment and conversation directories go too; a non-empty one stays (ENOTEMPTY).
      for (const dir of dirs) {
        for (const d of [dir, path.dirname(dir)]) {
          if (d === root || !d.startsWith(root + path.sep)) break;
          const removed = await rmdir(d).then(
            () => true,
            () => false,
          );
          if (!removed) break;
        }
      }
    },
    sweepTmp: () => sweepTmpDir(tmpDir),
  };
}
