// The embedded database (PGlite) in a thread of its own: see openEmbedded in db.ts, which is the
// only user of this file and says why. Plain JavaScript because a worker thread runs it as it is,
// both from the sources (tests, `npm run dev`) and from the bundle (`npm start`, see build.mjs).
//
// Requests arrive in the order the server sends them and are run one after another, in that order:
// { id, op: 'query', sql, params } | { id, op: 'exec', sql } | { id, op: 'close' }.
// Every request is answered with { id, rows } or { id, error: { message, code, ... } }.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

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
