/**
 * One client connection on the server: the handshake, then a loop that
 * decodes each request, applies it to the store and queues the reply. All
 * replies to the requests of one read are written together.
 *
 * @module
 */
import { checkClientHello, NONCE_SIZE, randomBytes, type ServerAuth, serverHello } from "../crypto/handshake.ts";
import {
  BadRequestError,
  CyberDBError,
  type ErrorCode,
  FrameTooLargeError,
  JournalCorruptError,
  TimeoutError,
} from "../errors.ts";
import type { Channel } from "../protocol/channel.ts";
import { decode, encode, encodeArray, LazyArray } from "../protocol/codec.ts";
import { type ClientHello, REPLY_ERROR, REPLY_OK, type ServerInfo } from "../protocol/messages.ts";
import { deriveSessionSecrets, RecordOpener, RecordSealer } from "../crypto/record.ts";
import type { Journal } from "../store/journal.ts";
import { opWrites, type Store } from "../store/store.ts";

/** Largest handshake frame accepted before authentication. */
export const HANDSHAKE_FRAME_LIMIT = 4096;

/** Queued reply bytes above which the session stops reading until the peer has taken them. */
const HIGH_WATER = 8 * 1024 * 1024;

/**
 * Queued reply bytes above which the connection is closed: reading stops at
 * {@link HIGH_WATER}, but the requests of one read can still ask for large
 * replies (`toArray` of a big list, many times over).
 */
export const MAX_QUEUED_REPLIES = 256 * 1024 * 1024;

/** What every session of one server shares. */
export interface SessionContext {
  /** The tables. */
  store: Store;
  /** Password key and encryption setting. */
  auth: ServerAuth;
  /** Largest request frame accepted after the handshake. */
  maxFrameSize: number;
  /** Milliseconds a new connection has to complete the handshake. */
  handshakeTimeout: number;
  /** Counters for `info`. */
  stats: { requests: number };
  /** Writes a log line, when logging is on. */
  log(message: string): void;
  /** The journal changes are appended to, if journaling. */
  journal(): Journal | undefined;
  /** Called after each journal commit (to compact a grown journal). */
  afterCommit(): void;
  /** The server's `info`. */
  info(): ServerInfo;
}

/**
 * Serves one connection until it closes. Never throws: every failure ends
 * in a log line and a closed connection.
 */
export async function serveSession(channel: Channel, context: SessionContext): Promise<void> {
  const peer = `${channel.conn.remoteAddr.hostname}:${channel.conn.remoteAddr.port}`;
  // Replies to the requests of one read, held until the journal has their changes, and
  // until it has every change they could have seen (another session's, not yet durable),
  // so no client ever reads what a crash could take back.
  let replies: Uint8Array[] = [];
  let journal: Journal | undefined;
  const sendReplies = async () => {
    const ready = replies;
    replies = [];
    const own = journal, current = context.journal();
    journal = undefined;
    for (const committing of own === current ? [own] : [own, current]) {
      const durable = committing?.commit();
      if (durable) await durable;
    }
    if (own) context.afterCommit();
    for (const reply of ready) channel.send(reply);
  };
  try {
    if (!await handshake(channel, context, peer)) return;
    channel.maxFrameSize = context.maxFrameSize;
    await channel.readFrames(
      (frame) => {
        const { reply, wrote } = handleRequest(context, frame);
        replies.push(reply);
        if (wrote) journal = wrote;
      },
      async () => {
        await sendReplies();
        if (channel.queuedBytes > MAX_QUEUED_REPLIES) {
          context.log(`${peer}: not reading its replies (${channel.queuedBytes} bytes queued); closing the connection`);
          channel.close();
        } else if (channel.queuedBytes > HIGH_WATER) {
          await channel.drain();
        }
      },
    );
  } catch (error) {
    if (error instanceof FrameTooLargeError) {
      context.log(`${peer}: ${error.message}; closing the connection`);
      // The requests before the oversize frame were applied: answer them first.
      await sendReplies().catch(() => {});
      channel.send(errorReply(0, error.code, error.message));
      await channel.drain();
    } else if (!channel.closed) {
      context.log(`${peer}: ${(error as Error).message}; closing the connection`);
    }
  } finally {
    channel.close();
  }
}

async function handshake(
  channel: Channel,
  context: SessionContext,
  peer: string,
): Promise<boolean> {
  channel.maxFrameSize = HANDSHAKE_FRAME_LIMIT;
  const nonce = randomBytes(NONCE_SIZE);
  channel.send(encode(serverHello(context.auth, nonce)));
  const timer = setTimeout(() => {
    context.log(
      `${peer}: no handshake within ${context.handshakeTimeout} ms; closing the connection`,
    );
    channel.close(new TimeoutError("handshake timed out"));
  }, context.handshakeTimeout);
  try {
    const frame = await channel.readFrame();
    if (frame === null) return false;
    let hello: unknown;
    try {
      hello = decode(frame);
    } catch {
      hello = undefined;
    }
    const welcome = await checkClientHello(context.auth, nonce, hello);
    channel.send(encode(welcome));
    await channel.drain();
    if (welcome.error) {
      context.log(`${peer}: refused: ${welcome.error[1]}`);
      return false;
    }
    if (context.auth.encrypt && context.auth.key) {
      const secrets = await deriveSessionSecrets(
        context.auth.key.hkdf,
        nonce,
        (hello as ClientHello).nonce,
      );
      channel.encrypt(
        await RecordSealer.create(secrets.serverToClient),
        await RecordOpener.create(secrets.clientToServer),
      );
    }
    return !channel.closed;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Applies one request and encodes its reply. A change is appended to the
 * journal (if any), which is returned so the caller commits it before replying.
 */
function handleRequest(context: SessionContext, frame: Uint8Array): { reply: Uint8Array; wrote?: Journal } {
  context.stats.requests++;
  let id = 0;
  try {
    const request = decodeRequest(frame);
    if (!Array.isArray(request) || request.length < 3 || !Number.isSafeInteger(request[0])) {
      throw new BadRequestError("a request must be [id, op, table, ...args]");
    }
    id = request[0];
    const [, op, table] = request;
    const failed = context.journal()?.failure;
    if (failed && opWrites(op)) {
      throw new JournalCorruptError(
        `${failed.message}; changes are refused until the server is restarted (reads still work)`,
      );
    }
    const result = op === "info" ? context.info() : context.store.apply(op, table, request.slice(3));
    const reply = encodeArray(result === undefined ? [id, REPLY_OK] : [id, REPLY_OK, result]);
    const journal = context.journal();
    if (journal && opWrites(op)) journal.append(frame);
    if (reply.length > context.maxFrameSize) {
      const error = new FrameTooLargeError(
        `the reply to ${op} is ${reply.length} bytes, over the frame limit of ${context.maxFrameSize}; ` +
          `read it in parts (slice) or raise maxFrameSize`,
      );
      return { reply: errorReply(id, error.code, error.message), wrote: journal };
    }
    return { reply, wrote: journal && opWrites(op) ? journal : undefined };
  } catch (error) {
    if (!(error instanceof CyberDBError)) {
      context.log(`internal error on request ${id}: ${(error as Error).stack}`);
    }
    const { code, message } = error instanceof CyberDBError
      ? error
      : { code: "BAD_REQUEST" as const, message: `the server failed on this request: ${(error as Error).message}` };
    return { reply: errorReply(id, code, message) };
  }
}

/** Frames from this size on are looked at item by item before being decoded. */
const LAZY_FRAME = 64 * 1024;

/**
 * Decodes a request; the entries of a large `d.update` are left to be decoded
 * one at a time as they are applied.
 */
function decodeRequest(frame: Uint8Array): unknown {
  if (frame.length < LAZY_FRAME) return decode(frame);
  const items = LazyArray.of(frame);
  if (items === undefined) return decode(frame); // not an array: refused with the usual message
  if (items.length !== 4 || items.at(1) !== "d.update") return items.all();
  return [items.at(0), items.at(1), items.at(2), items.lazyAt(3) ?? items.at(3)];
}

function errorReply(id: number, code: ErrorCode, message: string): Uint8Array {
  return encode([id, REPLY_ERROR, code, message]);
}
