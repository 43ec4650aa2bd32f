import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Context } from '../context.ts';
import { FileNotFoundError, objectKey } from '../files/store.ts';
import { newId } from '../ids.ts';
import { searchTerms } from '../search/terms.ts';
import type { Queryable } from '../storage/db.ts';
import { MIGRATIONS } from '../storage/migrations.ts';
import {
  completeAttachmentsAfter,
  countAttachmentFiles,
  countRows,
  deleteBuiltInUsers,
  describeTables,
  insertJsonRows,
  readTablePage,
  schemaVersion,
  setColumnOfRow,
  tableHasRows,
  type StoredAttachment,
  type TableInfo,
} from '../storage/transfer.ts';
import { syncWebhookTriggers } from '../storage/webhooks.ts';
import type { Progress } from './progress.ts';

// `confab export` / `confab import`: a whole instance as JSON, one object per line (NDJSON), to move
// it to another database (embedded to PostgreSQL, or back) or another server. See
// docs/operations.md, "Move between databases (export/import)".
//
// The file, line by line. Lines that are not rows carry a "$" (no column is called that):
//   {"$":"confab-export","version":1,"schemaVersion":15,"createdAt":…,"source":"embedded","tables":[{"name":"users","rows":12},…],"files":3}
//   {"$":"table","name":"users","rows":12}
//   {…one row: its columns as PostgreSQL's to_jsonb gives them…}
//   {"$":"end","name":"users","rows":12}
//   … every table, each after the tables it refers to …
//   {"$":"file","key":"<conversation>/<attachment>/original","type":"image/png"}
//   {"$":"data","b64":"…"}                          the file's bytes, a piece a line
//   {"$":"eof","key":…,"size":1234,"sha256":"…"}
//   {"$":"end-export","tables":{…counts…},"files":3}  last: a file without it was cut short
//
// What is in it, and how:
// - Every table of the instance, whole and as of one moment: on PostgreSQL the export reads in one
//   REPEATABLE READ transaction (the server may run meanwhile); the embedded database is the
//   command's alone (the server is stopped). The tables and their order come from the database's
//   own catalog (primary keys, foreign keys), so a table added by a later migration is carried
//   without changing this file. Left out, on purpose: schema_migrations (the target has its own),
//   jobs (queued work: e-mails, pushes and text extraction of the source's moment), and
//   membership_changes, webhook_deliveries and webhook_attempts (short-lived logs; pending webhook
//   deliveries are not carried over).
// - Encrypted columns (`…_enc`) are written as plaintext under the name without `_enc` (content,
//   draft, totp_secret…), decrypted with the source's keys; the import encrypts them with the
//   target's. An erased value ('', a deleted message's content) is not encrypted and stays as it is. The file therefore holds everything in clear: keep it as private as the database.
// - Messages keep their ids, seq, clientIds (idempotent sends stay idempotent across the move) and
//   times. Their search terms (keyed hashes, search/terms.ts) are not carried: the import computes
//   them with the target's key from the plaintext, for the messages that had terms.
// - Attachments' bytes follow the tables, read from the source's file store and written to the
//   target's (DATA_DIR/files or S3, whichever each is configured with).
// Both sides stream: a page of rows (or a piece of a file) at a time is in memory, never the
// instance; the import writes in batches, all in one transaction (all or nothing: a failed import
// leaves the target empty and can be run again).

export const EXPORT_FORMAT = 'confab-export';
export const EXPORT_VERSION = 1;

/** Rows per page read; smaller where a row can be large (extracted text, preview images). */
const PAGE_ROWS: Record<string, number> = { attachments: 50, link_preview_images: 50, message_versions: 200 };
const DEFAULT_PAGE_ROWS = 1000;
/** Rows per insert, and the JSON size at which a batch is sent before it is full. */
const BATCH_ROWS = 500;
const BATCH_BYTES = 2 * 1024 * 1024;

type Row = Record<string, unknown>;

/** Lines out, waiting whenever the destination is behind: the export never runs ahead of the disk. */
class LineWriter {
  bytes = 0;
  constructor(private readonly out: Writable) {}
  async write(value: unknown): Promise<void> {
    const line = `${JSON.stringify(value)}\n`;
    this.bytes += line.length;
    if (!this.out.write(line)) await once(this.out, 'drain');
  }
}

export interface TransferSummary {
  tables: Record<string, number>;
  messages: number;
  files: number;
  fileBytes: number;
  /** Files the source's rows name but its store does not have (the export goes on without them). */
  missingFiles: number;
  ms: number;
}

type TransferContext = Pick<Context, 'db' | 'keys' | 'files' | 'log'>;

export interface ExportOptions {
  /** Called once the totals are known (rows of every table, then files). */
  progress?: (total: number) => Progress;
  /** Told about each file the source's store lacks. */
  warn?: (message: string) => void;
}

/** Writes the whole instance to `out` (see the top of this file); `out` is ended. */
export async function exportInstance(ctx: TransferContext, out: Writable, opts: ExportOptions = {}): Promise<TransferSummary> {
  const started = Date.now();
  const writer = new LineWriter(out);
  const summary = await ctx.db.transaction(
    async (tx) => {
      const tables = await describeTables(tx);
      const counts: Array<{ name: string; rows: number }> = [];
      for (const t of tables) counts.push({ name: t.name, rows: await countRows(tx, t.name) });
      const files = await countAttachmentFiles(tx);
      const progress = opts.progress?.(counts.reduce((sum, c) => sum + c.rows, 0) + files);
      await writer.write({ $: EXPORT_FORMAT, version: EXPORT_VERSION, schemaVersion: await schemaVersion(tx), createdAt: new Date().toISOString(), source: ctx.db.kind, tables: counts, files });

      const written: Record<string, number> = {};
      for (const t of tables) {
        progress?.part(t.name);
        await writer.write({ $: 'table', name: t.name, rows: counts.find((c) => c.name === t.name)!.rows });
        let n = 0;
        for await (const page of pages(tx, t)) {
          for (const row of page) await writer.write(plainRow(ctx, t.name, row));
          n += page.length;
          progress?.add(page.length);
        }
        written[t.name] = n;
        await writer.write({ $: 'end', name: t.name, rows: n });
      }

      progress?.part('files');
      let sent = 0;
      let fileBytes = 0;
      let missing = 0;
      for await (const attachment of completeAttachments(tx)) {
        const variants: Array<['original' | 'preview', string]> = [['original', attachment.type ?? 'application/octet-stream']];
        if (attachment.has_preview) variants.push(['preview', 'image/webp']);
        for (const [variant, type] of variants) {
          const key = objectKey(attachment.conversation_id, attachment.id, variant);
          let stream: Readable;
          try {
            stream = await ctx.files.store.get(key);
          } catch (error) {
            if (!(error instanceof FileNotFoundError)) throw error;
            missing++;
            opts.warn?.(`the file ${key} is missing from the source's file store: exported without it`);
            progress?.add(1);
            continue;
          }
          await writer.write({ $: 'file', key, type });
          const hash = createHash('sha256');
          let size = 0;
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            hash.update(chunk);
            size += chunk.length;
            await writer.write({ $: 'data', b64: chunk.toString('base64') });
          }
          await writer.write({ $: 'eof', key, size, sha256: hash.digest('hex') });
          sent++;
          fileBytes += size;
          progress?.add(1);
        }
      }
      await writer.write({ $: 'end-export', tables: written, files: sent });
      progress?.stop();
      return { tables: written, messages: written.messages ?? 0, files: sent, fileBytes, missingFiles: missing };
    },
    { snapshot: true },
  );
  out.end();
  await once(out, 'finish');
  return { ...summary, ms: Date.now() - started };
}

/** A table's rows, a page at a time, in primary-key order. */
async function* pages(tx: Queryable, t: TableInfo): AsyncGenerator<Row[]> {
  const limit = PAGE_ROWS[t.name] ?? DEFAULT_PAGE_ROWS;
  let after: string[] | undefined;
  for (;;) {
    const page = await readTablePage(tx, t, after, limit);
    if (page.rows.length === 0) return;
    yield page.rows.map((r) => JSON.parse(r) as Row);
    if (page.rows.length < limit) return;
    after = page.last;
  }
}

async function* completeAttachments(tx: Queryable): AsyncGenerator<StoredAttachment> {
  let last = '';
  for (;;) {
    const rows = await completeAttachmentsAfter(tx, last, 500);
    yield* rows;
    if (rows.length < 500) return;
    last = rows[rows.length - 1]!.id;
  }
}

/** A row as the file holds it: encrypted columns decrypted, under their name without `_enc`. */
function plainRow(ctx: TransferContext, table: string, row: Row): Row {
  for (const [column, value] of Object.entries(row)) {
    // '' is not encrypted: it is what an erased value (a deleted message's content) is set to. It
    // stays as it is, under its own name, and is stored as it is.
    if (!column.endsWith('_enc') || value === '') continue;
    const plainName = column.slice(0, -'_enc'.length);
    if (plainName in row) throw new Error(`${table} has both ${plainName} and ${column}: confab export cannot tell them apart`);
    delete row[column];
    if (value === null) {
      row[plainName] = null;
      continue;
    }
    try {
      row[plainName] = ctx.keys.decrypt(String(value));
    } catch (error) {
      throw new Error(`cannot decrypt ${table}.${column} (${(error as Error).message})`);
    }
  }
  return row;
}

/**
 * The lines of a stream, read only as fast as they are taken: one chunk and one line in memory.
 * (node:readline's iterator reads ahead, up to a thousand lines, whatever their length: with the
 * files' base64 pieces that was tens of megabytes.)
 */
async function* linesOf(input: Readable): AsyncGenerator<string> {
  let pending: Buffer[] = [];
  for await (const chunk of input as AsyncIterable<Buffer>) {
    let start = 0;
    for (let end = chunk.indexOf(10); end >= 0; end = chunk.indexOf(10, start)) {
      pending.push(chunk.subarray(start, end));
      yield Buffer.concat(pending).toString('utf8');
      pending = [];
      start = end + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length > 0) yield Buffer.concat(pending).toString('utf8');
}

export class ImportError extends Error {
  override readonly name = 'ImportError';
}

export interface ImportOptions {
  progress?: (total: number) => Progress;
}

interface Header {
  $: string;
  version: number;
  schemaVersion: number;
  tables: Array<{ name: string; rows: number }>;
  files: number;
}

/**
 * Reads an export (see the top of this file) into this instance, which must be empty: every row in
 * one transaction, encrypted with this instance's keys, search terms computed with them, and the
 * files put in its file store.
 */
export async function importInstance(ctx: TransferContext, input: Readable, opts: ImportOptions = {}): Promise<TransferSummary> {
  const started = Date.now();
  const lines = linesOf(input);
  let lineNo = 0;
  const next = async (): Promise<Row | undefined> => {
    const { value, done } = await lines.next();
    if (done) return undefined;
    lineNo++;
    try {
      return JSON.parse(value) as Row;
    } catch {
      throw new ImportError(`line ${lineNo} is not JSON: not a Confab export, or damaged`);
    }
  };

  const header = (await next()) as Header | undefined;
  if (!header || header.$ !== EXPORT_FORMAT) throw new ImportError('not a Confab export (its first line does not say confab-export)');
  if (header.version !== EXPORT_VERSION) throw new ImportError(`this export has format version ${header.version}; this Confab reads version ${EXPORT_VERSION}`);
  // The highest version, not the last in the list: versions are not always listed in order.
  const newest = Math.max(...MIGRATIONS.map((m) => m.version));
  if (header.schemaVersion > newest) throw new ImportError(`this export was made by a newer Confab (database schema ${header.schemaVersion}, this one knows up to ${newest}): upgrade this one first`);

  const tables = new Map((await describeTables(ctx.db)).map((t) => [t.name, t]));
  for (const { name } of header.tables) if (!tables.has(name)) throw new ImportError(`the export holds a table ${name}, which this Confab does not have`);
  for (const t of tables.values()) {
    if (await tableHasRows(ctx.db, t.name)) throw new ImportError(`this instance is not empty (its table ${t.name} has rows): import only into a new, empty instance`);
  }

  const progress = opts.progress?.(header.tables.reduce((sum, t) => sum + t.rows, 0) + header.files);
  const storedKeys: string[] = [];
  await mkdir(ctx.files.store.tmpDir, { recursive: true, mode: 0o700 });
  try {
    const result = await ctx.db.transaction(async (tx) => {
      const counts: Record<string, number> = {};
      let files = 0;
      let fileBytes = 0;
      let ended: Row | undefined;
      // The export's built-in rows replace the empty instance's.
      await deleteBuiltInUsers(tx);
      for (let line = await next(); line; line = await next()) {
        const kind = line.$;
        if (kind === 'table') {
          const name = String(line.name);
          const t = tables.get(name);
          if (!t) throw new ImportError(`line ${lineNo}: unknown table ${name}`);
          progress?.part(name);
          counts[name] = await importTable(ctx, tx, t, next, progress);
          if (counts[name] !== Number(line.rows)) throw new ImportError(`the export announced ${line.rows} rows of ${name} and holds ${counts[name]}: damaged`);
        } else if (kind === 'file') {
          progress?.part('files');
          const size = await importFile(ctx, String(line.key), String(line.type), next, storedKeys);
          files++;
          fileBytes += size;
          progress?.add(1);
        } else if (kind === 'end-export') {
          ended = line;
          break;
        } else {
          throw new ImportError(`line ${lineNo} is out of place: damaged export`);
        }
      }
      if (!ended) throw new ImportError('the export ends before its last line: it is cut short (was it copied whole?)');
      for (const [name, rows] of Object.entries(ended.tables as Record<string, number>)) {
        if (counts[name] !== rows) throw new ImportError(`the export ends saying ${rows} rows of ${name}, and holds ${counts[name] ?? 0}: damaged`);
      }
      if (Number(ended.files) !== files) throw new ImportError(`the export ends saying ${ended.files} files, and holds ${files}: damaged`);
      // Outgoing webhooks that came along get their triggers (storage/webhooks.ts).
      await syncWebhookTriggers(tx);
      return { tables: counts, messages: counts.messages ?? 0, files, fileBytes, missingFiles: 0 };
    });
    progress?.stop();
    return { ...result, ms: Date.now() - started };
  } catch (error) {
    progress?.stop();
    // Nothing of a failed import stays: the rows rolled back, the files go too.
    await ctx.files.store.delete(storedKeys).catch(() => {});
    throw error;
  }
}

/** One table's rows, up to its end line, inserted in batches; returns how many. */
async function importTable(ctx: TransferContext, tx: Queryable, t: TableInfo, next: () => Promise<Row | undefined>, progress: Progress | undefined): Promise<number> {
  let batch: Row[] = [];
  let batchBytes = 0;
  let count = 0;
  const later: Array<{ key: unknown; column: string; value: unknown }> = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await insertJsonRows(tx, t.name, batch);
    progress?.add(batch.length);
    batch = [];
    batchBytes = 0;
  };
  for (;;) {
    const line = await next();
    if (!line) throw new ImportError(`the export ends inside the table ${t.name}: it is cut short`);
    if (line.$ !== undefined) {
      if (line.$ !== 'end' || line.name !== t.name) throw new ImportError(`the table ${t.name} is not closed where it should be: damaged export`);
      break;
    }
    const row = targetRow(ctx, t, line);
    // Rows that refer to rows of their own table may come before those: set once all are in.
    for (const column of t.selfRefs) {
      if (row[column] !== null && row[column] !== undefined) {
        later.push({ key: row[t.key[0]!], column, value: row[column] });
        row[column] = null;
      }
    }
    batch.push(row);
    batchBytes += JSON.stringify(row).length;
    count++;
    if (batch.length >= BATCH_ROWS || batchBytes >= BATCH_BYTES) await flush();
  }
  await flush();
  for (const { key, column, value } of later) {
    await setColumnOfRow(tx, t.name, t.key[0]!, key, column, value);
  }
  return count;
}

/** A row of the file as the target stores it: plaintext encrypted with the target's keys, search terms made with its key. */
function targetRow(ctx: TransferContext, t: TableInfo, row: Row): Row {
  const out: Row = {};
  for (const [column, value] of Object.entries(row)) {
    if (column === '$indexed') continue;
    if (t.columns.has(column)) out[column] = value;
    else if (t.columns.has(`${column}_enc`)) out[`${column}_enc`] = value === null ? null : ctx.keys.encrypt(String(value));
    else throw new ImportError(`the export's ${t.name} has a column ${column}, which this Confab does not have`);
  }
  if (t.name === 'messages' && t.columns.has('search_terms')) {
    const indexed = row.$indexed === true && typeof row.content === 'string';
    // As strings: the hashes are 64-bit, past what a JSON number keeps exactly.
    out.search_terms = indexed ? searchTerms(ctx.keys.searchKey, String(row.conversation_id), row.content as string) : [];
    out.search_version = 2;
  }
  return out;
}

/** One file's pieces, up to its eof line, into the target's file store; returns its size. */
async function importFile(ctx: TransferContext, key: string, type: string, next: () => Promise<Row | undefined>, stored: string[]): Promise<number> {
  const scratch = path.join(ctx.files.store.tmpDir, `import-${newId()}`);
  const file = createWriteStream(scratch, { mode: 0o600 });
  const hash = createHash('sha256');
  let size = 0;
  try {
    for (;;) {
      const line = await next();
      if (!line) throw new ImportError(`the export ends inside the file ${key}: it is cut short`);
      if (line.$ === 'data') {
        const bytes = Buffer.from(String(line.b64), 'base64');
        hash.update(bytes);
        size += bytes.length;
        if (!file.write(bytes)) await once(file, 'drain');
      } else if (line.$ === 'eof' && line.key === key) {
        if (line.size !== size || line.sha256 !== hash.digest('hex')) throw new ImportError(`the file ${key} in the export does not match its checksum: damaged`);
        break;
      } else {
        throw new ImportError(`the file ${key} is not closed where it should be: damaged export`);
      }
    }
    file.end();
    await once(file, 'finish');
    await ctx.files.store.put(key, scratch, type);
    stored.push(key);
    return size;
  } finally {
    file.destroy();
    await unlink(scratch).catch(() => {});
  }
}
