/**
 * TLS for the Node runtime over `node:tls`: a TLS server hands over a socket
 * once its handshake is done (`secureConnection`); a client connects, then
 * completes its handshake before resolving, so an untrusted certificate
 * rejects the connect itself. The sockets are the same pull-based
 * {@link NodeConn}s as over plain TCP.
 *
 * @module
 */
import type * as Tls from "node:tls";
import { TlsError } from "../errors.ts";
import type { Addr, Conn, Listener, TlsCertificate, TlsVerification } from "./interface.ts";
import { nodeTls } from "./_node_builtins.ts";
import { bind, NodeConn } from "./_node_net.ts";

/**
 * Binds a TLS listener presenting `certificate`.
 *
 * @returns the listener, once bound
 * @throws {Error} when the certificate or key cannot be used, or the address is in use
 */
export function listenTls(addr: Addr, certificate: TlsCertificate): Promise<Listener> {
  let server: Tls.Server;
  try {
    server = nodeTls().createServer({ cert: certificate.cert, key: certificate.key, allowHalfOpen: true });
  } catch (error) {
    return Promise.reject(
      new Error(`cannot use the TLS certificate and key: ${(error as Error).message}`, { cause: error }),
    );
  }
  // A client that fails its handshake (it does not trust the certificate, or speaks no TLS) is dropped by Node.
  server.on("tlsClientError", () => {});
  return bind(server, addr, "secureConnection");
}

/**
 * Opens a TLS connection, checking the server's certificate against the system's roots and
 * `verification.caCerts`, for `addr.hostname`.
 *
 * @returns the connection, once the handshake is done
 * @throws {TlsError} when the handshake fails
 * @throws {Error} Node's error when the TCP connection cannot be made
 */
export function connectTls(addr: Addr, verification: TlsVerification): Promise<Conn> {
  const tls = nodeTls();
  return new Promise((resolve, reject) => {
    const ca = verification.caCerts === undefined ? undefined : [...tls.rootCertificates, ...verification.caCerts];
    const socket = tls.connect({ host: addr.hostname, port: addr.port, ca });
    let connected = false;
    socket.once("connect", () => connected = true);
    const failed = (error: Error) => {
      socket.destroy();
      reject(connected ? new TlsError(`TLS handshake failed: ${error.message}`, { cause: error }) : error);
    };
    socket.once("error", failed);
    socket.once("secureConnect", () => {
      socket.off("error", failed);
      resolve(new NodeConn(socket));
    });
  });
}
