import type { Queryable } from './db.ts';

// The SQL of copying a whole instance (backup/transfer.ts: confab export and import; backup/backup.ts:
// the embedded backup's checkpoint). Tables are found in the database's own catalog, so a table
// added by a later migration is copied too without a change here.

/** Tables the export leaves out (why: backup/transfer.ts). */
const NOT_MOVED = new Set(['schema_migrations', 'jobs', 'membership_changes', 'webhook_deliveries', 'webhook_attempts']);
/** The built-in assistant user (migration 1) is in every instance, the empty target's too. */
const BUILT_IN_USERS = ['assistant'];
const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

export interface TableInfo {
  name: string;
  columns: Set<string>;
  /** The primary key's columns, in order, and their types (for keyset paging). */
  key: string[];
  keyTypes: string[];
  /** Tables it refers to (foreign keys), itself excluded. */
  refersTo: Set<string>;
  /** Its columns that refer to its own rows (users.bot_owner_id): set after the table's rows are in. */
  selfRefs: string[];
}

/** The moved tables, each after those it refers to. */
export async function describeTables(q: Queryable): Promise<TableInfo[]> {
  const columns = await q.query<{ table: string; column: string }>(
    `SELECT table_name AS table, column_name AS column FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
  );
  const keys = await q.query<{ table: string; column: string; type: string }>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indisprimary AND n.nspname = 'public'
      ORDER BY c.relname, k.ord`,
  );
  const refs = await q.query<{ table: string; refers: string; columns: string[] }>(
    `SELECT c.relname AS table, r.relname AS refers,
            ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = f.conrelid AND a.attnum = ANY (f.conkey)) AS columns
       FROM pg_constraint f
       JOIN pg_class c ON c.oid = f.conrelid
       JOIN pg_class r ON r.oid = f.confrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE f.contype = 'f' AND n.nspname = 'public'`,
  );
  const tables = new Map<string, TableInfo>();
  for (const { table, column } of columns) {
    if (NOT_MOVED.has(table)) continue;
    let info = tables.get(table);
    if (!info) tables.set(table, (info = { name: table, columns: new Set(), key: [], keyTypes: [], refersTo: new Set(), selfRefs: [] }));
    info.columns.add(column);
  }
  for (const { table, column, type } of keys) {
    const info = tables.get(table);
    if (!info) continue;
    info.key.push(column);
    info.keyTypes.push(type);
  }
  for (const { table, refers, columns: cols } of refs) {
    const info = tables.get(table);
    if (!info) continue;
    if (refers === table) info.selfRefs.push(...cols);
    else if (!NOT_MOVED.has(refers)) info.refersTo.add(refers);
  }
  // Each table after those it refers to; ties by name, so two exports of one schema list them alike.
  const ordered: TableInfo[] = [];
  const placed = new Set<string>();
  const remaining = [...tables.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  while (remaining.length > 0) {
    const next = remaining.findIndex((t) => [...t.refersTo].every((r) => placed.has(r) || !tables.has(r)));
    if (next < 0) throw new Error(`the tables ${remaining.map((t) => t.name).join(', ')} refer to each other in a cycle: confab export cannot order them`);
    const [table] = remaining.splice(next, 1);
    ordered.push(table!);
    placed.add(table!.name);
  }
  for (const t of ordered) {
    if (t.key.length === 0) throw new Error(`the table ${t.name} has no primary key: confab export cannot page through it`);
    if (t.selfRefs.length > 0 && t.key.length !== 1) throw new Error(`the table ${t.name} refers to itself and has a composite key: not supported by confab export`);
  }
  return ordered;
}

export async function schemaVersion(q: Queryable): Promise<number> {
  const [row] = await q.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
  return row?.version ?? 0;
}

export async function countRows(q: Queryable, table: string): Promise<number> {
  const [row] = await q.query<{ n: number | string }>(`SELECT count(*) AS n FROM ${ident(table)}`);
  return Number(row!.n);
}

/** Files stored for complete attachments: each original, and each preview. */
export async function countAttachmentFiles(q: Queryable): Promise<number> {
  const [row] = await q.query<{ n: number | string }>(`SELECT count(*) + count(*) FILTER (WHERE has_preview) AS n FROM attachments WHERE status = 'complete'`);
  return Number(row!.n);
}

/**
 * One page of a table in primary-key order after the key `after` (keyset paging: each page is one
 * index range), each row as to_jsonb's text, with its key as text for the next page. Messages come
 * without their search terms (hashes under this instance's key), with `$indexed`: whether it had any.
 */
export async function readTablePage(q: Queryable, t: TableInfo, after: string[] | undefined, limit: number): Promise<{ rows: string[]; last: string[] | undefined }> {
  const select =
    t.name === 'messages' && t.columns.has('search_terms')
      ? `((to_jsonb(t) - 'search_terms' - 'search_version') || jsonb_build_object('$indexed', cardinality(t.search_terms) > 0))::text`
      : 'to_jsonb(t)::text';
  const keyList = t.key.map((k) => `t.${ident(k)}`).join(', ');
  const keyText = t.key.map((k, i) => `t.${ident(k)}::text AS k${i}`).join(', ');
  const where = after ? `WHERE (${keyList}) > (${t.keyTypes.map((type, i) => `$${i + 1}::${type}`).join(', ')})` : '';
  const rows = await q.query<Record<string, string>>(`SELECT ${select} AS r, ${keyText} FROM ${ident(t.name)} t ${where} ORDER BY ${keyList} LIMIT ${limit}`, after ?? []);
  const end = rows[rows.length - 1];
  return { rows: rows.map((r) => r.r!), last: end && t.key.map((_, i) => end[`k${i}`]!) };
}

export interface StoredAttachment {
  id: string;
  conversation_id: string;
  type: string | null;
  has_preview: boolean;
}

export function completeAttachmentsAfter(q: Queryable, afterId: string, limit: number): Promise<StoredAttachment[]> {
  return q.query<StoredAttachment>(`SELECT id, conversation_id, type, has_preview FROM attachments WHERE status = 'complete' AND id > $1 ORDER BY id LIMIT $2`, [afterId, limit]);
}

/** Whether a table has rows (the users table: besides the built-in ones). */
export async function tableHasRows(q: Queryable, table: string): Promise<boolean> {
  const users = table === 'users';
  const [row] = await q.query<{ taken: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM ${ident(table)}${users ? ' WHERE NOT (id = ANY ($1::text[]))' : ''}) AS taken`,
    users ? [BUILT_IN_USERS] : [],
  );
  return row?.taken === true;
}

/** The built-in users of a new instance, which an import replaces with the export's. */
export async function deleteBuiltInUsers(tx: Queryable): Promise<void> {
  await tx.query('DELETE FROM users WHERE id = ANY ($1::text[])', [BUILT_IN_USERS]);
}

/** Inserts rows given as JSON objects (column → value); PostgreSQL turns the JSON into the table's own types (times, arrays, jsonb). */
export async function insertJsonRows(tx: Queryable, table: string, rows: Array<Record<string, unknown>>): Promise<void> {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))].map(ident).join(', ');
  await tx.query(`INSERT INTO ${ident(table)} (${columns}) SELECT ${columns} FROM json_populate_recordset(NULL::${ident(table)}, $1::json)`, [JSON.stringify(rows)]);
}

export async function setColumnOfRow(tx: Queryable, table: string, keyColumn: string, key: unknown, column: string, value: unknown): Promise<void> {
  await tx.query(`UPDATE ${ident(table)} SET ${ident(column)} = $2 WHERE ${ident(keyColumn)} = $1`, [key, value]);
}

/**
 * The embedded backup's moment (backup/backup.ts), run while nothing else reaches the database:
 * the schema version, a checkpoint (every committed change written into the data files), and the
 * WAL segments PostgreSQL needs from it on (from the redo point's to the current one).
 */
export async function checkpointForCopy(session: Queryable): Promise<{ schemaVersion: number; redoWalFile: string; currentWalFile: string }> {
  const version = await schemaVersion(session);
  await session.exec('CHECKPOINT');
  const [wal] = await session.query<{ redo: string; current: string }>(
    'SELECT (SELECT redo_wal_file FROM pg_control_checkpoint()) AS redo, pg_walfile_name(pg_current_wal_lsn()) AS current',
  );
  return { schemaVersion: version, redoWalFile: wal!.redo, currentWalFile: wal!.current };
}
