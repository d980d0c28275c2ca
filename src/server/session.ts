/**
 * One client connection on the server: the handshake, then a loop that
 * decodes each request, applies it to the store and queues the reply. All
 * replies to the requests of one read are written together.
 *
 * @module
 */
import { type ServerAuth, ServerHandshake } from "../crypto/handshake.ts";
import { type ErrorCode, FrameTooLargeError, TimeoutError } from "../errors.ts";
import type { Channel } from "../protocol/channel.ts";
import { encode, encodeArray } from "../protocol/codec.ts";
import { encodeReply } from "../protocol/small_messages.ts";
import { type InfoOptions, REPLY_ERROR, REPLY_OK, type ServerInfo } from "../protocol/messages.ts";
import { RecordOpener, type RecordOptions, RecordSealer } from "../crypto/record.ts";
import type { Journal } from "../store/journal.ts";
import { applyRequest, type RequestTarget } from "../store/request.ts";
import type { SessionLimits } from "./limits.ts";
import { SessionWatches } from "./watches.ts";
import type { LogFields, LogLevel } from "../log.ts";
import type { RequestMetrics } from "./metrics.ts";
import type { ConnectedClient } from "./client_list.ts";
import type { Slowlog } from "./slowlog.ts";

/** Largest handshake frame accepted before authentication. */
export const HANDSHAKE_FRAME_LIMIT = 4096;

/** Longest error message sent: what it quotes from the request is cut to about 100 characters already. */
const MAX_ERROR_MESSAGE = 1024;

/** What every session of one server shares. */
export interface SessionContext extends RequestTarget {
  /** Password key and encryption setting. */
  auth: ServerAuth;
  /** Which cipher seals this server's records. */
  records: RecordOptions;
  /** Largest request frame accepted after the handshake. */
  maxFrameSize: number;
  /** Most bytes of change events queued for one connection before its watches end with `SLOW_CONSUMER`. */
  watchBuffer: number;
  /** Milliseconds a new connection has to complete the handshake. */
  handshakeTimeout: number;
  /** Output buffer limits and write timeout. */
  limits: SessionLimits;
  /** Counters for `info`. */
  stats: { requests: number };
  /** Requests by op, errors by code, latency (for `--metrics`). */
  metrics: RequestMetrics;
  /** The requests that took at least its threshold to apply. */
  slowlog: Slowlog;
  /** Writes a log line, when logging is on (level `info` unless given). */
  log(message: string, level?: LogLevel, fields?: LogFields): void;
  /** Called after each journal commit (to compact a grown journal). */
  afterCommit(): void;
  /** The server's `info`, with the sections asked for. */
  info(options?: InfoOptions): ServerInfo;
}

/**
 * Serves one connection until it closes. Never throws: every failure ends
 * in a log line and a closed connection.
 *
 * @param channel the connection
 * @param context what every session shares
 * @param client this connection's row of the client list, which the session keeps up to date
 * @param authenticated called once the handshake succeeded
 */
export async function serveSession(
  channel: Channel,
  context: SessionContext,
  client: ConnectedClient,
  authenticated: () => void = () => {},
): Promise<void> {
  const peer = client.address;
  // Replies to the requests of one read, held until the journal has their changes, and
  // until it has every change they could have seen (another session's, not yet durable),
  // so no client ever reads what a crash could take back.
  let replies: Uint8Array[] = [];
  let replyBytes = 0;
  let journal: Journal | undefined;
  // Sends at once, in the turn of the read, when nothing is waiting on the disk.
  const sendReplies = (): Promise<void> | void => {
    const ready = replies;
    replies = [];
    replyBytes = 0;
    const own = journal, current = context.journal();
    journal = undefined;
    const durable = own?.commit();
    if (durable) return sendDurable(ready, own, durable, own === current ? undefined : current);
    const also = own === current ? undefined : current?.commit();
    if (also) return sendDurable(ready, own, also, undefined);
    if (own) context.afterCommit();
    for (const reply of ready) channel.send(reply);
  };
  const sendDurable = async (
    ready: Uint8Array[],
    own: Journal | undefined,
    durable: Promise<void>,
    then: Journal | undefined,
  ) => {
    await durable;
    const also = then?.commit();
    if (also) await also;
    if (own) context.afterCommit();
    for (const reply of ready) channel.send(reply);
  };
  const watches = new SessionWatches({
    store: context.store,
    channel,
    watchBuffer: context.watchBuffer,
    durable: () => context.journal()?.commit(),
    log: (message) => context.log(`${peer}: ${message}`),
  });
  // This session's requests: the server's target, plus its own watches.
  const target: SessionContext = {
    ...context,
    watch: (id, table, args) => watches.add(id, table, args),
    unwatch: (id) => watches.remove(id),
  };
  try {
    if (!await handshake(channel, context, peer)) return;
    client.authenticated = true;
    authenticated();
    channel.maxFrameSize = context.maxFrameSize;
    const { outputBufferSoft: soft, outputBufferHard: hard, writeTimeout } = context.limits;
    const overHard = (unsent: number) => {
      context.log(
        `${peer}: ${unsent} bytes of replies unsent, over the limit of ${hard}; closing the connection`,
        "warn",
      );
      channel.close();
    };
    // After the replies are handed to the channel: past the soft limit, wait (bounded) for the client to take them.
    const afterSend = (): Promise<void> | void => {
      const unsent = channel.unsentBytes;
      if (unsent > hard) return overHard(unsent);
      if (unsent <= soft || channel.closed) return;
      return waitForDrain(unsent);
    };
    const waitForDrain = async (unsent: number) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), writeTimeout));
      const timedOut = await Promise.race([channel.drain().then(() => false), late]);
      clearTimeout(timer);
      if (timedOut && !channel.closed) {
        context.log(
          `${peer}: took too few of its ${unsent} bytes of replies in ${writeTimeout} ms (write timeout); ` +
            `closing the connection`,
        );
        channel.close();
      }
    };
    await channel.readFrames(
      (frame) => {
        const { reply, wrote } = handleRequest(target, frame, client);
        replies.push(reply);
        replyBytes += reply.length;
        if (wrote) journal = wrote;
        const unsent = replyBytes + channel.unsentBytes;
        if (unsent > hard) overHard(unsent);
        // Past the soft limit: send what is answered, and read nothing more until the client has taken it.
        return unsent <= soft;
      },
      () => {
        const sending = sendReplies();
        return sending ? sending.then(afterSend) : afterSend();
      },
    );
  } catch (error) {
    if (error instanceof FrameTooLargeError) {
      context.log(`${peer}: ${error.message}; closing the connection`, "warn");
      // The requests before the oversize frame were applied: answer them first.
      try {
        await sendReplies();
      } catch {
        // the connection is closing anyway
      }
      channel.send(errorReply(0, error.code, error.message));
      await channel.drain();
    } else if (!channel.closed) {
      context.log(`${peer}: ${(error as Error).message}; closing the connection`, "warn");
    }
  } finally {
    watches.close();
    channel.close();
  }
}

async function handshake(
  channel: Channel,
  context: SessionContext,
  peer: string,
): Promise<boolean> {
  channel.maxFrameSize = HANDSHAKE_FRAME_LIMIT;
  const timer = setTimeout(() => {
    context.log(
      `${peer}: no handshake within ${context.handshakeTimeout} ms; closing the connection`,
    );
    channel.close(new TimeoutError("handshake timed out"));
  }, context.handshakeTimeout);
  try {
    const handshake = await ServerHandshake.create(context.auth);
    channel.send(handshake.hello);
    for (;;) {
      const frame = await channel.readFrame();
      if (frame === null) return false;
      const step = await handshake.receive(frame);
      if (step.send) channel.send(step.send);
      if (step.refused !== undefined) {
        await channel.drain();
        context.log(`${peer}: refused: ${step.refused}`, "warn");
        return false;
      }
      if (!step.done) continue;
      await channel.drain();
      if (step.secrets) {
        channel.encrypt(
          await RecordSealer.create(step.secrets.serverToClient, context.records),
          await RecordOpener.create(step.secrets.clientToServer, context.records),
        );
      }
      return !channel.closed;
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Applies one request and encodes its reply. A change is appended to the
 * journal (if any), which is returned so the caller commits it before replying.
 */
function handleRequest(
  context: SessionContext,
  frame: Uint8Array,
  client: ConnectedClient,
): { reply: Uint8Array; wrote?: Journal } {
  context.stats.requests++;
  client.requests++;
  const started = client.lastRequest = performance.now();
  const applied = applyRequest(context, frame);
  const ms = performance.now() - started;
  context.metrics.observe(applied.error ? "error" : applied.op, ms / 1000, applied.error?.code);
  if (ms >= context.slowlog.threshold) context.slowlog.add(frame, ms, client.address);
  if (applied.error) {
    if (applied.internal) context.log(`internal error on request ${applied.id}: ${applied.internal.stack}`, "error");
    return { reply: errorReply(applied.id, applied.error.code, applied.error.message) };
  }
  const { id, op, result, wrote } = applied;
  const reply = encodeReply(id, REPLY_OK, result) ??
    encodeArray(result === undefined ? [id, REPLY_OK] : [id, REPLY_OK, result]);
  if (reply.length > context.maxFrameSize) {
    const error = new FrameTooLargeError(
      `the reply to ${op} is ${reply.length} bytes, over the frame limit of ${context.maxFrameSize}; ` +
        `read it in parts (slice) or raise maxFrameSize`,
    );
    return { reply: errorReply(id, error.code, error.message), wrote };
  }
  return { reply, wrote };
}

function errorReply(id: number, code: ErrorCode, message: string): Uint8Array {
  const short = message.length > MAX_ERROR_MESSAGE ? `${message.slice(0, MAX_ERROR_MESSAGE)}…` : message;
  return encode([id, REPLY_ERROR, code, short]);
}
