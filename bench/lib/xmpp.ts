/**
 * A lean XMPP client for load generation, over a raw TCP socket (node:net), shaped like the lean
 * Socket.IO client (`ChatSocket`) so the load loop drives it unchanged:
 *
 *   stream open → SASL PLAIN → stream restart → resource bind → stream management (XEP-0198,
 *   without resumption) → initial presence → join the user's MUC rooms (XEP-0045)
 *
 * `emit('chat:message_send', { conversationId, content, clientId }, ack)` sends one `<message>`
 * (type `chat` to a bare JID, `groupchat` to a room, `id` = clientId). What acknowledges it:
 *   - `chat`: a stream-management ack. `<r/>` goes out once per batch (everything written in one
 *     tick); the ack callback fires when the server's `<a h='N'/>` reaches the send's stanza index:
 *     the server has *handled* the stanza (for ejabberd: ran the sender-side hooks, mod_mam's insert
 *     into the sender's archive among them, and routed it on).
 *   - `groupchat`: the room's echo of the message to its sender (same id). An SM ack would only say
 *     the sender's session passed the message to the room process, before the room archives it;
 *     the room archives first and then sends to every occupant, so the echo means "stored".
 *
 * Incoming `<message>` stanzas with a `<body>` are handed to `onEvent` as a small synthetic
 * Socket.IO-like frame (`42["chat:message_received",{"content":"…"}]`), so the scenarios' frame
 * checks (prefix, `"content":"L…`) work on both kinds of server. The parser is a streaming scanner
 * over the server's serialised XML (stanzas split across TCP chunks are fine): it tracks element
 * depth by tags and cuts out each top-level element; it relies on the server escaping `<` and `>`
 * inside text and attribute values, as ejabberd's serializer does.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import type { ChatSocket } from './lean.ts';
import { DISCONNECTED } from './lean.ts';

export interface XmppOptions {
  host: string;
  port: number;
  /** The XMPP domain (the stream's `to`). */
  domain: string;
  /** The MUC service's domain: messages to a JID there are sent as `groupchat`. */
  mucDomain: string;
  username: string;
  password: string;
  /** Room JIDs to join after binding (the user's group conversations). */
  rooms?: string[];
  /** Room JIDs to create (join as the first occupant, accept the default configuration). */
  createRooms?: string[];
  localAddress?: string;
  onEvent?: (frame: Buffer) => void;
  onClose?: (reason: string) => void;
  timeoutMs?: number;
}

type AckFn = (frame: Buffer, offset: number) => void;

const NS_SM = 'urn:xmpp:sm:3';
const OK_FRAME = Buffer.from('[{"ok":true}]');
const ERROR_FRAME = Buffer.from('[{"ok":false}]');
const RECEIVED_HEAD = '42["chat:message_received",{"content":"';
let nickCounter = 0;

export const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
const unescapeXml = (s: string) => (s.includes('&') ? s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&') : s);

/** Value of attribute `name` in the start tag at the head of `el` (single or double quotes). */
function attr(el: string, name: string): string | undefined {
  const end = el.indexOf('>');
  const m = new RegExp(`\\s${name}=(?:'([^']*)'|"([^"]*)")`).exec(el.slice(0, end));
  return m ? unescapeXml(m[1] ?? m[2]!) : undefined;
}

export class XmppSocket implements ChatSocket {
  connected = false;
  events = 0;
  /** The full JID the server bound. */
  jid = '';
  private readonly socket: Socket;
  private buffer = '';
  /** Where scanning resumes in `buffer` (everything before it is already counted). */
  private scanPos = 0;
  /** Element depth: 0 outside the stream, 1 inside it between stanzas. */
  private depth = 0;
  private elementStart = -1;
  private out: string[] = [];
  private flushScheduled = false;
  private ackRequested = false;
  /** Stanzas sent / received since stream management was enabled (the XEP-0198 counters). */
  private sentStanzas = 0;
  private receivedStanzas = 0;
  private smEnabled = false;
  /** Sends waiting for `<a h>`: stanza index (1-based) and callback, in order. */
  private readonly pending: Array<{ index: number; ack: AckFn }> = [];
  private pendingHead = 0;
  /** Groupchat sends waiting for the room's echo, by message id. */
  private readonly pendingEcho = new Map<string, AckFn>();
  private echoIds = 0;
  /** Top-level elements during the handshake, and the one waiting for the next of them. */
  private readonly handshakeElements: string[] = [];
  private waiter: ((el: string) => void) | undefined;
  private closedReason: string | undefined;
  private errorsLogged = 0;

  private constructor(private readonly opts: XmppOptions) {
    this.socket = tcpConnect({ host: opts.host, port: opts.port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    this.socket.setNoDelay(true);
    this.socket.setEncoding('utf8');
  }

  static async connect(opts: XmppOptions): Promise<XmppSocket> {
    const s = new XmppSocket(opts);
    const timeoutMs = opts.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        s.handshake(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('XMPP handshake timed out')), timeoutMs);
        }),
        new Promise<never>((_, reject) => {
          s.socket.once('error', reject);
          s.socket.once('close', () => reject(new Error(`closed during handshake${s.closedReason ? `: ${s.closedReason}` : ''}`)));
        }),
      ]);
    } catch (error) {
      s.socket.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    s.socket.removeAllListeners('error');
    s.socket.removeAllListeners('close');
    s.socket.on('error', () => {});
    s.socket.on('close', () => {
      const was = s.connected;
      s.connected = false;
      s.failAcks();
      if (was) opts.onClose?.(s.closedReason ?? 'transport close');
    });
    s.connected = true;
    return s;
  }

  private async handshake(): Promise<void> {
    const { domain } = this.opts;
    this.socket.on('data', (chunk: string) => this.onData(chunk));
    await new Promise<void>((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    const header = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'>`;
    this.socket.write(header);
    await this.expect('<stream:features');
    const plain = Buffer.from(`\0${this.opts.username}\0${this.opts.password}`).toString('base64');
    this.socket.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain}</auth>`);
    const auth = await this.next();
    if (!auth.startsWith('<success')) throw new Error(`SASL PLAIN refused for ${this.opts.username}: ${auth}`);
    // A new stream after SASL success (RFC 6120 6.4.6): the parser starts over.
    this.depth = 0;
    this.buffer = '';
    this.scanPos = 0;
    this.socket.write(header);
    const features = await this.expect('<stream:features');
    if (!features.includes(NS_SM)) throw new Error('the server offers no stream management (XEP-0198)');
    this.socket.write(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`);
    const bound = await this.expect('<iq');
    const jid = /<jid>([^<]+)<\/jid>/.exec(bound);
    if (!jid) throw new Error(`bind failed: ${bound}`);
    this.jid = jid[1]!;
    // Acks only: no resumption, so a closed connection ends its session at once (no lingering
    // session that would still hold MUC seats or take messages).
    this.socket.write(`<enable xmlns='${NS_SM}'/>`);
    const enabled = await this.next();
    if (!enabled.startsWith('<enabled')) throw new Error(`stream management refused: ${enabled}`);
    this.smEnabled = true;
    // Initial presence: only an available resource gets messages sent to the bare JID.
    this.writeStanza('<presence/>');
    for (const room of this.opts.rooms ?? []) await this.join(room);
    for (const room of this.opts.createRooms ?? []) {
      const presence = await this.join(room);
      if (!presence.includes("code='201'") && !presence.includes('code="201"')) throw new Error(`room ${room} already existed`);
      // An instant room: submit an empty configuration form, which takes the service's defaults.
      this.writeStanza(`<iq type='set' id='config' to='${room}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
      for (;;) {
        const el = await this.next();
        if (!el.startsWith('<iq') || attr(el, 'id') !== 'config') continue;
        if (attr(el, 'type') !== 'result') throw new Error(`configuring ${room} failed: ${el}`);
        break;
      }
    }
  }

  /** Joins a room under a fresh nickname; resolves with the room's presence for our own occupant. */
  private async join(room: string): Promise<string> {
    const nick = `n${nickCounter++}`;
    this.writeStanza(`<presence to='${room}/${nick}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`);
    for (;;) {
      const el = await this.next();
      if (!el.startsWith('<presence') || attr(el, 'from') !== `${room}/${nick}`) continue;
      if (attr(el, 'type') === 'error') throw new Error(`joining ${room} failed: ${el}`);
      return el;
    }
  }

  /** The next top-level element (handshake only). */
  private next(): Promise<string> {
    const queued = this.handshakeElements.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  private async expect(prefix: string): Promise<string> {
    for (;;) {
      const el = await this.next();
      if (el.startsWith(prefix)) return el;
      if (el.startsWith('<stream:error')) throw new Error(`stream error: ${el}`);
    }
  }

  private onData(chunk: string): void {
    const buf = this.buffer + chunk;
    let pos = this.scanPos;
    let consumed = 0;
    for (;;) {
      const lt = buf.indexOf('<', pos);
      if (lt < 0) break;
      const gt = buf.indexOf('>', lt);
      if (gt < 0) break;
      pos = gt + 1;
      const c = buf.charCodeAt(lt + 1);
      if (c === 0x3f /* <?xml …?> */) {
        consumed = pos;
      } else if (c === 0x2f /* </…> */) {
        this.depth--;
        if (this.depth === 1) this.onElement(buf.slice(this.elementStart, pos));
        else if (this.depth === 0) {
          this.closedReason ??= 'stream closed by the server';
          this.socket.end();
        }
        if (this.depth <= 1) consumed = pos;
      } else if (buf.charCodeAt(gt - 1) === 0x2f /* <…/> */) {
        if (this.depth === 1) {
          this.onElement(buf.slice(lt, pos));
          consumed = pos;
        }
      } else if (this.depth === 0) {
        this.depth = 1; // <stream:stream …>
        consumed = pos;
      } else {
        if (this.depth === 1) this.elementStart = lt;
        this.depth++;
      }
    }
    // Keep what is unfinished (an open element, or a tag cut in two) for the next chunk.
    const keepFrom = this.depth > 1 ? this.elementStart : consumed;
    this.buffer = buf.slice(keepFrom);
    this.scanPos = pos - keepFrom;
    this.elementStart -= keepFrom;
  }

  private onElement(el: string): void {
    const c1 = el.charCodeAt(1);
    if (c1 === 0x6d /* m */ && el.startsWith('<message')) {
      if (this.smEnabled) this.receivedStanzas++;
      if (this.pendingEcho.size > 0) {
        const id = attr(el, 'id');
        const ack = id === undefined ? undefined : this.pendingEcho.get(id);
        if (ack) {
          this.pendingEcho.delete(id!);
          ack(attr(el, 'type') === 'error' ? ERROR_FRAME : OK_FRAME, 0);
        }
      }
      const b = el.indexOf('<body>');
      if (b >= 0) {
        this.events++;
        const text = el.slice(b + 6, el.indexOf('</body>', b));
        this.opts.onEvent?.(Buffer.from(`${RECEIVED_HEAD}${unescapeXml(text).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"}]`));
      } else if (attr(el, 'type') === 'error' && this.errorsLogged++ < 3) {
        process.stderr.write(`xmpp ${this.jid}: ${el}\n`);
      }
      this.deliver(el);
      return;
    }
    if (c1 === 0x61 /* a */ && el.startsWith('<a ')) {
      const h = Number(attr(el, 'h'));
      this.onAckCount(h);
      return;
    }
    if (c1 === 0x72 /* r */ && (el.startsWith('<r ') || el.startsWith('<r/'))) {
      this.queue(`<a xmlns='${NS_SM}' h='${this.receivedStanzas}'/>`);
      return;
    }
    if (this.smEnabled && (el.startsWith('<presence') || el.startsWith('<iq'))) {
      this.receivedStanzas++;
      if (el.startsWith('<iq') && attr(el, 'type') === 'get') {
        // Answer server pings and other gets we do not support, as a client must.
        this.writeStanza(`<iq type='error' id='${escapeXml(attr(el, 'id') ?? '')}' to='${escapeXml(attr(el, 'from') ?? this.opts.domain)}'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`);
      }
    }
    if (el.startsWith('<stream:error')) this.closedReason = `stream error: ${el}`;
    this.deliver(el);
  }

  private deliver(el: string): void {
    if (this.connected) return;
    const w = this.waiter;
    if (!w) {
      this.handshakeElements.push(el);
      return;
    }
    this.waiter = undefined;
    w(el);
  }

  private onAckCount(h: number): void {
    while (this.pendingHead < this.pending.length && this.pending[this.pendingHead]!.index <= h) {
      const p = this.pending[this.pendingHead++]!;
      p.ack(OK_FRAME, 0);
    }
    if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
      this.pending.splice(0, this.pendingHead);
      this.pendingHead = 0;
    }
  }

  private failAcks(): void {
    const left = [...this.pending.slice(this.pendingHead).map((p) => p.ack), ...this.pendingEcho.values()];
    this.pending.length = 0;
    this.pendingHead = 0;
    this.pendingEcho.clear();
    for (const ack of left) ack(DISCONNECTED, 0);
  }

  /** Queues a stanza (counted for stream management) for the next flush. */
  private writeStanza(xml: string): number {
    this.queue(xml);
    return ++this.sentStanzas;
  }

  private queue(xml: string): void {
    this.out.push(xml);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.ackRequested) {
      this.out.push(`<r xmlns='${NS_SM}'/>`);
      this.ackRequested = false;
    }
    if (this.out.length === 0 || this.socket.destroyed) return;
    this.socket.write(this.out.length === 1 ? this.out[0]! : this.out.join(''));
    this.out = [];
  }

  emit(event: string, payload: unknown, ack?: AckFn): void {
    if (event !== 'chat:message_send') throw new Error(`XmppSocket cannot emit ${event}`);
    if (!this.connected) {
      ack?.(DISCONNECTED, 0);
      return;
    }
    const { conversationId: to, content, clientId } = payload as { conversationId: string; content: string; clientId?: string };
    const groupchat = to.endsWith(`@${this.opts.mucDomain}`);
    const id = clientId ?? `x${this.echoIds++}`;
    const index = this.writeStanza(`<message to='${to}' type='${groupchat ? 'groupchat' : 'chat'}' id='${escapeXml(id)}'><body>${escapeXml(content)}</body></message>`);
    if (!ack) return;
    if (groupchat) {
      this.pendingEcho.set(id, ack);
    } else {
      this.pending.push({ index, ack });
      this.ackRequested = true;
    }
  }

  get inFlight(): number {
    return this.pending.length - this.pendingHead + this.pendingEcho.size;
  }

  /** Ends the stream politely, so the server ends the session (and its room seats) at once. */
  close(): void {
    if (this.socket.destroyed) return;
    this.closedReason = 'client close';
    this.connected = false;
    this.flush();
    this.socket.end('</stream:stream>');
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}
