import type { Message } from '@confab/protocol';
import type { Logger } from 'pino';
import type { StreamRegistry } from './ai/streams.ts';
import type { Bus } from './bus/bus.ts';
import type { Config } from './config.ts';
import type { Keyring } from './crypto/keyring.ts';
import type { FilesOptions } from './files/options.ts';
import type { UrlSigner } from './files/signing.ts';
import type { FileStore } from './files/store.ts';
import type { JobQueue } from './jobs/queue.ts';
import type { Mailer } from './mail/mailer.ts';
import type { Metrics } from './metrics.ts';
import type { PushSender } from './push/sender.ts';
import type { RateLimits } from './rateLimits.ts';
import type { Database } from './storage/db.ts';
import type { MessageRow } from './storage/rows.ts';

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
  /** Stop and regenerate requests for AI answers, served by the assistant (assistant/runner.ts). */
  answers: AnswerControl;
  /** Attachment bytes (local disk or S3), limits and upload-URL signing. */
  files: { store: FileStore; options: FilesOptions; signer: UrlSigner };
  /** The retrying job queue (web push, file deletion, text extraction). */
  jobs: JobQueue;
  push: PushSender;
  /** E-mail (password reset links, invitations); unset without CONFAB_SMTP_URL. */
  mail?: Mailer;
  /**
   * Who is connected (with at least one socket that is not away), across nodes: the realtime
   * gateway's presence store. Unset means nobody is: notifications then always go out by push.
   */
  presence?: PresenceLookup;
  /** This server's Prometheus metrics; unset in tools (the CLI). */
  metrics?: Metrics;
  /** Link previews fetched in the background (operations/previews.ts); unset in tools that start none. */
  previews?: { schedule(message: Message): void };
}

/**
 * What operations/ai.ts asks of the assistant once it has checked access. Requests, not domain
 * events: the caller's ack waits for the outcome (the regenerated message, or why it failed), and
 * only the assistant knows which answers run on this node.
 */
export interface AnswerControl {
  /** Stops a `streaming` answer wherever it runs, or closes it with its checkpointed text if no node runs it any more. */
  stop(answer: MessageRow): Promise<void>;
  /**
   * Writes `answer` again as a new version, or a new answer when there is none yet; `requestedBy`
   * pays. Resolves with the message in its new `streaming` state.
   */
  regenerate(requestedBy: string, conversationId: string, answer: MessageRow | undefined): Promise<Message>;
}

export interface PresenceLookup {
  /** The subset of `userIds` that is online. */
  online(userIds: string[]): Promise<Set<string>>;
}
