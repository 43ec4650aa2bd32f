import path from 'node:path';
import type { Keyring } from '../crypto/keyring.ts';
import { DEFAULT_FILES_OPTIONS, type FilesOptions } from './options.ts';
import { createS3FileStore } from './s3.ts';
import { createUrlSigner, type UrlSigner } from './signing.ts';
import { createLocalFileStore, type FileStore } from './store.ts';

export interface Files {
  store: FileStore;
  options: FilesOptions;
  signer: UrlSigner;
}

/** The file store (S3 when configured, else DATA_DIR/files), limits and the upload-URL signer. */
export function createFiles(dataDir: string, keys: Pick<Keyring, 'jwtKey'>, options: Partial<FilesOptions> = {}): Files {
  const opts: FilesOptions = { ...DEFAULT_FILES_OPTIONS, ...options };
  const tmpDir = path.join(dataDir, 'files', '.tmp');
  const store = opts.s3 ? createS3FileStore(opts.s3, tmpDir) : createLocalFileStore(path.join(dataDir, 'files'));
  return { store, options: opts, signer: createUrlSigner(keys) };
}
