/**
 * The baseline: the chat server a team would write on Socket.IO in an afternoon, tuned as Socket.IO's
 * performance-tuning guide says (https://socket.io/docs/v4/performance-tuning/):
 *   - WebSocket transport only (no long-polling, no upgrade), bufferutil + utf-8-validate installed,
 *   - no compression (perMessageDeflate off, httpCompression off), no served client bundle,
 *   - rooms for broadcast (Socket.IO encodes a room broadcast once for all its sockets).
 * Auth: a token in the handshake, checked against an in-memory map (so the comparison has auth).
 * Membership: an in-memory map user → rooms; a socket joins its user's rooms on connect.
 * `chat:message_send { conversationId, content, clientId }`: checks the socket is in the room, stores
 * the message with ONE INSERT (STORE=postgres or pglite) and acks it once committed, then broadcasts
 * `chat:message_received` to the room (the sender's sockets included, as Confab does).
 * STORE=none is the fan-out ceiling: ack at once, broadcast, store nothing.
 *
 * Bench control over HTTP (loopback only): POST /setup { users: [{ token, userId, rooms }] } adds
 * users; GET /stats[?reset] answers { rss, heapUsed, sockets, stored, eventLoop } where eventLoop is
 * the event-loop delay histogram since the last reset (same 10 ms sampling as prom-client's).
 *   STORE=none|postgres|pglite DATABASE_URL=… DATA_DIR=… PORT=0 node --import tsx bench/baseline/server.ts
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Server } from 'socket.io';

const store = (process.env.STORE ?? 'none') as 'none' | 'postgres' | 'pglite';
const port = Number(process.env.PORT ?? 0);

const SCHEMA = `CREATE TABLE IF NOT EXISTS messages (
  id text PRIMARY KEY,
  conversation_id text NOT NULL,
  author_id text NOT NULL,
  client_id text NOT NULL,
  content text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_conversation ON messages (conversation_id, created_at);`;
const INSERT = 'INSERT INTO messages (id, conversation_id, author_id, client_id, content, created_at) VALUES ($1, $2, $3, $4, $5, $6)';

type Insert = (params: unknown[]) => Promise<unknown>;
let insert: Insert | undefined;
let closeDb: () => Promise<void> = async () => {};
if (store === 'postgres') {
  const pg = (await import('pg')).default;
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 });
  pool.on('error', () => {});
  await pool.query(SCHEMA);
  insert = (params) => pool.query(INSERT, params);
  closeDb = () => pool.end();
} else if (store === 'pglite') {
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(process.env.DATA_DIR ?? undefined);
  await db.exec(SCHEMA);
  insert = (params) => db.query(INSERT, params);
  closeDb = () => db.close();
}

interface User {
  userId: string;
  rooms: string[];
}
const tokens = new Map<string, User>();
let stored = 0;
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

const http = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'POST' && url.pathname === '/setup') {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const { users } = JSON.parse(body) as { users: Array<User & { token: string }> };
      for (const u of users) tokens.set(u.token, { userId: u.userId, rooms: u.rooms });
      res.writeHead(204).end();
    });
    return;
  }
  if (req.method === 'GET' && url.pathname === '/stats') {
    const mem = process.memoryUsage();
    const ms = (ns: number) => ns / 1e6;
    const eventLoop = { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max), mean: ms(loop.mean) };
    if (url.searchParams.has('reset')) loop.reset();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ rss: mem.rss, heapUsed: mem.heapUsed, sockets: io.of('/').sockets.size, stored, eventLoop }));
    return;
  }
  res.writeHead(404).end();
});

const io = new Server(http, {
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
  maxHttpBufferSize: 1024 * 1024,
});

io.use((socket, next) => {
  const token: unknown = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
  const user = typeof token === 'string' ? tokens.get(token) : undefined;
  if (!user) return next(new Error('UNAUTHENTICATED'));
  socket.data.userId = user.userId;
  void socket.join([`user:${user.userId}`, ...user.rooms.map((r) => `conv:${r}`)]);
  next();
});

interface SendBody {
  conversationId: string;
  content: string;
  clientId: string;
}

io.on('connection', (socket) => {
  const userId = socket.data.userId as string;
  socket.on('chat:message_send', (body: SendBody, ack?: (r: unknown) => void) => {
    const room = `conv:${body?.conversationId}`;
    if (typeof body?.content !== 'string' || typeof body.clientId !== 'string' || !socket.rooms.has(room)) {
      ack?.({ ok: false, error: { code: 'NOT_FOUND', message: 'no such conversation' } });
      return;
    }
    const message = { id: randomUUID(), conversationId: body.conversationId, authorId: userId, clientId: body.clientId, content: body.content, createdAt: new Date().toISOString() };
    const publish = () => {
      stored++;
      ack?.({ ok: true, data: message });
      io.to(room).emit('chat:message_received', message);
    };
    if (!insert) return publish();
    insert([message.id, message.conversationId, message.authorId, message.clientId, message.content, message.createdAt]).then(publish, (error: unknown) =>
      ack?.({ ok: false, error: { code: 'UNAVAILABLE', message: String(error) } }),
    );
  });
});

await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
console.log(`baseline listening on http://127.0.0.1:${(http.address() as AddressInfo).port} (store: ${store})`);

const stop = () => {
  void io.close(() => {
    void closeDb().finally(() => process.exit(0));
  });
  setTimeout(() => process.exit(0), 5000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
