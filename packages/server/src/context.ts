import type { Logger } from 'pino';
import type { AiRunner } from './ai/runner.ts';
import type { StreamRegistry } from './ai/streams.ts';
import type { Bus } from './bus/bus.ts';
import type { Config } from './config.ts';
import type { Keyring } from './crypto/keyring.ts';
import type { FilesOptions } from './files/options.ts';
import type { UrlSigner } from './files/signing.ts';
import type { FileStore } from './files/store.ts';
import type { JobQueue } from './jobs/queue.ts';
import type { PushSender } from './push/sender.ts';
import type { RateLimits } from './rateLimits.ts';
import type { Database } from './storage/db.ts';

/** What every operation needs; built once by the composition root (server.ts). */
export interface Context {
  config: Config;
  db: Database;
  keys: Keyring;
  /** This node's domain events (bus/bus.ts: what crosses nodes, and how). */
  bus: Bus;
  log: Logger;
  limits: RateLimits;
  /** Live text of AI answers being streamed (in process, or in Redis with several nodes). */
  streams: StreamRegistry;
  /** The AI runner; set by the composition root right after the context (they refer to each other). */
  ai?: AiRunner;
  /** Attachment bytes (local disk or S3), limits and upload-URL signing. */
  files: { store: FileStore; options: FilesOptions; signer: UrlSigner };
  /** The retrying job queue (web push, file deletion, text extraction). */
  jobs: JobQueue;
  push: PushSender;
  /**
   * Who is connected (with at least one socket that is not away), across nodes: the realtime
   * gateway's presence store. Unset means nobody is: notifications then always go out by push.
   */
  presence?: PresenceLookup;
}

export interface PresenceLookup {
  /** The subset of `userIds` that is online. */
  online(userIds: string[]): Promise<Set<string>>;
}
