/**
 * Two Confab nodes behind the reverse-proxy recipes of docs/proxy/ (nginx sticky by client address,
 * Caddy sticky by cookie), as in http/proxy.test.ts but with two upstreams. What the recipes rely
 * on: a WebSocket is one TCP connection, so any balancing carries it; the requests of a
 * long-polling session must all reach the node that holds it, which is what the sticky line does.
 * Two nodes share one PostgreSQL database and Redis: this runs in the PostgreSQL pass only.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestNodes, type TestNodes, type TestServer, type TestUser } from '../test/harness.ts';
import {
  caddySite,
  clientSocketOptions,
  freePort,
  nginxSite,
  proxyDir,
  replaceIn,
  selfSignedCertificate,
  startCaddy,
  startNginx,
  upstreamOf,
  type Certificate,
  type ProxyProcess,
} from '../test/proxies.ts';
import { connect, connectError, ok, waitFor, type Client, type ClientOptions } from './test/kit.ts';

let dir: string;
let cert: Certificate;
let cluster: TestNodes;
let nodes: TestServer[];
let sticky: ProxyProcess, roundRobin: ProxyProcess, caddy: ProxyProcess;
let alice: TestUser, bob: TestUser;
let group: string;
const sockets: Client[] = [];

/** Which node holds this client's connection (the client's id is the server socket's). */
const nodeOf = (socket: Client) => nodes.findIndex((n) => n.gateway.io.sockets.sockets.has(socket.id!));

async function open(proxy: ProxyProcess, user: TestUser, opts: ClientOptions & { localAddress?: string }): Promise<Client> {
  const { localAddress, ...rest } = opts;
  const socket = await connect(proxy.url, user.accessToken, { ...clientSocketOptions({ ca: cert.ca, ...(localAddress ? { localAddress } : {}) }), ...rest });
  sockets.push(socket);
  return socket;
}

/** Connects clients of `user` (from 127.0.0.2, .3, … where `addresses`) until one is on each node. */
async function onEachNode(proxy: ProxyProcess, user: TestUser, opts: ClientOptions, addresses: boolean): Promise<[Client, Client]> {
  const found: Array<Client | undefined> = [undefined, undefined];
  for (let i = 2; i < 40 && !(found[0] && found[1]); i++) {
    const socket = await open(proxy, user, { ...opts, ...(addresses ? { localAddress: `127.0.0.${i}` } : {}) });
    const node = nodeOf(socket);
    expect(node).toBeGreaterThanOrEqual(0);
    if (!found[node]) found[node] = socket;
    else socket.close();
  }
  if (!found[0] || !found[1]) throw new Error('no client landed on one of the nodes');
  return found as [Client, Client];
}

/** Messages both ways between a client on node 0 and one on node 1, several each: many round trips of each session. */
async function talk(a: Client, b: Client, label: string): Promise<void> {
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    for (let i = 0; i < 3; i++) {
      const content = `${label} ${i} ${randomUUID()}`;
      const heard = waitFor(to, 'chat:message_received', (m: { content: string }) => m.content === content);
      await ok(from, 'chat:message_send', { conversationId: group, content, clientId: randomUUID() });
      await heard;
    }
  }
}

beforeAll(async () => {
  dir = proxyDir('confab-proxy-multinode-');
  cert = selfSignedCertificate(dir);
  cluster = await startTestNodes(2);
  nodes = cluster.nodes;
  const upstreams = nodes.map((n) => upstreamOf(n.url));
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
  [sticky, roundRobin, caddy] = await Promise.all([
    startNginx(nginxSite({ port: p1, upstreams, cert }), p1),
    // The recipe without its sticky line: nginx's default, round robin.
    startNginx(nginxSite({ port: p2, upstreams, cert, edit: (s) => replaceIn(s, /^ *hash \$remote_addr consistent;.*\n/m, '') }), p2),
    startCaddy(caddySite({ port: p3, upstreams, cert }), p3),
  ]);
  [alice, bob] = [await registerUser(nodes[0]!, 'alice'), await registerUser(nodes[0]!, 'bob')];
  group = (await alice.api.post('/api/conversations/group', { title: 'two nodes', participantIds: [bob.id] })).body.id;
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await Promise.allSettled([sticky, roundRobin, caddy].map((p) => p?.close()));
  await cluster?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('two nodes behind nginx (sticky by client address)', () => {
  it('keeps each long-polling session on its node: clients from different addresses spread over both and talk across', async () => {
    const [onA, onB] = await onEachNode(sticky, alice, { transports: ['polling'] }, true);
    expect(onA.io.engine.transport.name).toBe('polling');
    // alice's two sockets: each hears what the other sends, across the nodes.
    await talk(onA, onB, 'polling via nginx');
  });

  it('carries WebSockets to either node', async () => {
    const [onA, onB] = await onEachNode(sticky, bob, {}, true);
    expect(onA.io.engine.transport.name).toBe('websocket');
    await talk(onA, onB, 'websocket via nginx');
  });
});

describe('two nodes behind nginx without the sticky line (round robin)', () => {
  it('carries WebSocket-only clients: a WebSocket is one connection, to one node', async () => {
    const [onA, onB] = await onEachNode(roundRobin, alice, {}, false);
    await talk(onA, onB, 'websocket, round robin');
  });

  it('breaks long-polling: the next request of a session goes to the node that does not know it', async () => {
    for (let i = 0; i < 3; i++) {
      const error = await connectError(roundRobin.url, { token: alice.accessToken }, { ...clientSocketOptions({ ca: cert.ca }), transports: ['polling'] });
      expect(error.message).toMatch(/poll|xhr|transport/i);
    }
  });
});

describe('two nodes behind Caddy (sticky by cookie)', () => {
  it('keeps each long-polling session on its node by its cookie: clients spread over both and talk across', async () => {
    // withCredentials: socket.io-client keeps a cookie jar in Node (browsers keep cookies anyway; the SDK sets it).
    const [onA, onB] = await onEachNode(caddy, bob, { transports: ['polling'], withCredentials: true }, false);
    expect(onA.io.engine.transport.name).toBe('polling');
    await talk(onA, onB, 'polling via Caddy');
  });

  it('carries WebSockets to either node', async () => {
    const [onA, onB] = await onEachNode(caddy, alice, {}, false);
    expect(onA.io.engine.transport.name).toBe('websocket');
    await talk(onA, onB, 'websocket via Caddy');
  });
});
