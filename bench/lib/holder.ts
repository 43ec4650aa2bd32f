/**
 * A generator process that opens and holds many idle connections (forked by S1's multi-node part:
 * one process can have at most ~20K descriptors here, so 50K connections need several).
 * Messages over IPC: parent → { type: 'connect', url, tokens, count, addressStart, parallel } |
 * { type: 'count' } | { type: 'close' }; child → { type: 'progress', done } |
 * { type: 'connected', count, seconds } | { type: 'count', alive } | { type: 'error', message }.
 */
import { AddressPool, connectMany, type LeanSocket } from './lean.ts';

interface ConnectCommand {
  type: 'connect';
  url: string;
  tokens: string[];
  count: number;
  addressStart: number;
  parallel: number;
}
type Command = ConnectCommand | { type: 'count' } | { type: 'close' };

let sockets: LeanSocket[] = [];
const send = (m: unknown) => process.send?.(m);

process.on('message', (m: Command) => {
  if (m.type === 'connect') {
    const addresses = new AddressPool(250, m.addressStart);
    const t0 = performance.now();
    connectMany(m.count, m.parallel, (i) => ({ url: m.url, token: m.tokens[i % m.tokens.length]!, localAddress: addresses.next() }), (done) => send({ type: 'progress', done })).then(
      (s) => {
        sockets = s;
        send({ type: 'connected', count: s.length, seconds: (performance.now() - t0) / 1000 });
      },
      (error: unknown) => send({ type: 'error', message: String(error) }),
    );
  } else if (m.type === 'count') {
    send({ type: 'count', alive: sockets.filter((s) => s.connected).length });
  } else if (m.type === 'close') {
    for (const s of sockets) s.close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
