/**
 * Opening the socket of a client connection: a Unix socket, TLS or plain
 * TCP, as the options ask; a failure becomes the error `connect()` rejects
 * with, saying what to do.
 *
 * @module
 */
import { ConnectionClosedError, TlsError } from "../../errors.ts";
import { type Conn, runtime, type TlsVerification } from "../../runtime/mod.ts";

/** What {@link dial} needs of the connect options. */
export interface DialOptions {
  /** A Unix socket to connect to instead of TCP. */
  path?: string;
  /** TLS over TCP, and how to check the server's certificate. */
  tls?: TlsVerification;
}

/**
 * Opens the socket to the server.
 *
 * @param options `path` for a Unix socket, else `tls` for TLS over TCP, else plain TCP
 * @param hostname the server's host (the name its TLS certificate must hold)
 * @param port its port
 * @param where the server, for messages
 * @returns the open (and, with TLS, handshaken) connection
 * @throws {TlsError} `TLS_FAILED` when the TLS handshake fails (the message says how to pass the CA)
 * @throws {ConnectionClosedError} when the server cannot be reached
 */
export async function dial(options: DialOptions, hostname: string, port: number, where: string): Promise<Conn> {
  try {
    if (options.path !== undefined) return await runtime.connectUnix(options.path);
    return options.tls === undefined
      ? await runtime.connect({ hostname, port })
      : await runtime.connectTls({ hostname, port }, options.tls);
  } catch (error) {
    if (error instanceof TlsError) {
      throw new TlsError(
        `${where}: ${error.message}. If your own CA signed the server's certificate, pass it: ` +
          `connect({ tls: { caCerts: [caPem] } }); check that ${hostname} is a name in the certificate, ` +
          `and that the server was started with --tls-cert`,
        { cause: error.cause },
      );
    }
    throw new ConnectionClosedError(
      `cannot connect to ${where}: ${(error as Error).message}; is the server running?`,
      { cause: error },
    );
  }
}
