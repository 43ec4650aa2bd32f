// The embedded database (PGlite) in a thread of its own: see openEmbedded in db.ts, which is the
// only user of this file and says why. Plain JavaScript because a worker thread runs it as it is,
// both from the sources (tests, `npm run dev`) and from the bundle (`npm start`, see build.mjs).
//
// Requests arrive in the order the server sends them and are run one after another, in that order:
// { id, op: 'query' | 'prepared', sql, params } | { id, op: 'exec', sql } | { id, op: 'close' }.
// Every request is answered with { id, rows } or { id, error: { message, code, ... } }.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, parse, protocol } from '@electric-sql/pglite';

/** The fields of a PostgreSQL error worth keeping (an Error itself loses them on the way). */
const ERROR_FIELDS = ['message', 'code', 'severity', 'detail', 'hint', 'position', 'where', 'schema', 'table', 'column', 'constraint'];

const port = parentPort;
if (!port) throw new Error('embeddedWorker.js runs as a worker thread');

const opening = PGlite.create(workerData.dir);
let queue = Promise.resolve();

port.on('message', (request) => {
  queue = queue.then(() => handle(request));
});

async function handle({ id, op, sql, params }) {
  try {
    const db = await opening;
    if (op === 'query') port.postMessage({ id, rows: (await db.query(sql, params)).rows });
    else if (op === 'prepared') port.postMessage({ id, rows: await db.runExclusive(() => runPrepared(db, sql, params ?? [])) });
    else if (op === 'exec') {
      await db.exec(sql);
      port.postMessage({ id, rows: [] });
    } else if (op === 'close') {
      await db.close();
      port.postMessage({ id, rows: [] });
    } else throw new Error(`unknown request ${op}`);
  } catch (error) {
    const fields = {};
    for (const key of ERROR_FIELDS) if (error?.[key] !== undefined) fields[key] = error[key];
    port.postMessage({ id, error: { message: String(error?.message ?? error), ...fields } });
  }
}

/**
 * Statements run with `prepare: true` (db.ts, QueryOptions): parsed and planned once in this
 * session under a name, then only bound and executed, through PGlite's wire-protocol API. PGlite's
 * own query() parses and plans every call. Parameters and results are converted by PGlite's own
 * serializers and parsers, so rows come out as query() gives them.
 */
const prepared = new Map(); // text → { name, types: parameter type oids, rowDescription (absent for no rows) }
const wire = protocol.serialize;

async function runPrepared(db, sql, params) {
  const run = (message) => db.execProtocolStream(message, { syncToFs: false });
  let statement = prepared.get(sql);
  if (!statement) {
    const name = `confab_${prepared.size + 1}`;
    const described = [];
    try {
      described.push(...(await run(wire.parse({ name, text: sql }))), ...(await run(wire.describe({ type: 'S', name }))));
    } finally {
      await run(wire.sync());
    }
    statement = {
      name,
      types: described.find((m) => m.name === 'parameterDescription')?.dataTypeIDs ?? [],
      rowDescription: described.find((m) => m.name === 'rowDescription'),
    };
    prepared.set(sql, statement);
  }
  const values = params.map((value, i) => {
    if (value === null || value === undefined) return null;
    const serialize = db.serializers[statement.types[i]];
    return serialize ? serialize(value) : value.toString();
  });
  const messages = statement.rowDescription ? [statement.rowDescription] : [];
  try {
    messages.push(...(await run(wire.bind({ statement: statement.name, values }))), ...(await run(wire.execute({}))));
  } finally {
    await run(wire.sync());
  }
  // As query() does after each statement (a no-op on a filesystem that writes through).
  await db.syncToFs();
  return parse.parseResults(messages, db.parsers)[0]?.rows ?? [];
}
