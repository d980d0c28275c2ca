/**
 * The client side of the connection handshake (`crypto/handshake.ts` holds the protocol): frames are read
 * one at a time until the handshake is done; on `AUTH_FAILED` the client tells the server why before
 * closing, so the server's log says it; an encrypted connection's channel switches to sealed records
 * before any request is sent.
 *
 * @module
 */
import { ClientHandshake, clientRefusal } from "../../crypto/handshake.ts";
import { RecordOpener, type RecordOptions, RecordSealer } from "../../crypto/record.ts";
import { ConnectionClosedError, CyberDBError } from "../../errors.ts";
import type { Channel } from "../../protocol/channel.ts";

/** What the handshake needs of `connect()`'s options. */
export interface HandshakeOptions extends RecordOptions {
  /** The server's password, if it has one. */
  password?: string;
  /** Require an encrypted connection. */
  encrypt?: boolean;
  /** Fewest PBKDF2 iterations accepted from a server's hello. */
  minIterations?: number;
}

/**
 * Runs the client side of the handshake on a fresh channel: authenticates with the password and, when
 * agreed, switches the channel to sealed records.
 *
 * @param channel the new connection's channel
 * @param options the password, encryption and record options
 * @param where names the server in error messages
 * @throws {CyberDBError} `AUTH_FAILED` (the server is told why), `CONNECTION_CLOSED`
 */
export async function handshake(
  channel: Channel,
  options: HandshakeOptions,
  where: string,
): Promise<void> {
  const handshake = new ClientHandshake({
    password: options.password,
    encrypt: options.encrypt ?? false,
    minIterations: options.minIterations,
  });
  for (;;) {
    let step;
    try {
      step = await handshake.receive(await readHandshakeFrame(channel, where));
    } catch (error) {
      if (error instanceof CyberDBError && error.code === "AUTH_FAILED" && !channel.closed) {
        channel.send(clientRefusal(error)); // so the server's log says why
        await channel.drain().catch(() => {});
      }
      throw error;
    }
    if (step.send) channel.send(step.send);
    if (!step.done) continue;
    if (step.secrets) {
      channel.encrypt(
        await RecordSealer.create(step.secrets.clientToServer, options),
        await RecordOpener.create(step.secrets.serverToClient, options),
      );
    }
    return;
  }
}

async function readHandshakeFrame(
  channel: Channel,
  where: string,
): Promise<Uint8Array> {
  const frame = await channel.readFrame();
  if (frame === null) {
    throw new ConnectionClosedError(
      `${where} closed the connection during the handshake; is it a cyberdb server?`,
    );
  }
  return frame;
}
