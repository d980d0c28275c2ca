/**
 * Test fixture: a real cyberdb server on a free loopback port, and a client
 * connected to it. Every test starts its own and stops what it started.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Client, connect, type ConnectOptions, Server, type StartOptions } from "../mod.ts";

/** A running server and how to reach it. */
export interface Fixture {
  server: Server;
  port: number;
  /** Options for `connect()` that reach this server. */
  options: ConnectOptions;
  /** A client connected with `options`. */
  client: Client;
  /** Closes the client and the server. */
  close(): Promise<void>;
}

/**
 * Starts a server on 127.0.0.1 port 0 and connects a client to it.
 *
 * @param start options for `server.start()` (password, encrypt, …)
 * @param extra options for `connect()` beyond where and the password
 */
export async function startServer(
  start: StartOptions = {},
  extra: ConnectOptions = {},
): Promise<Fixture> {
  const server = new Server();
  const { port } = await server.start({
    hostname: "127.0.0.1",
    port: 0,
    ...start,
  });
  const options: ConnectOptions = {
    hostname: "127.0.0.1",
    port,
    password: start.password,
    encrypt: start.encrypt,
    webCrypto: start.webCrypto,
    ...extra,
  };
  let client: Client;
  try {
    client = await connect(options);
  } catch (error) {
    await server.close();
    throw error;
  }
  return {
    server,
    port,
    options,
    client,
    async close() {
      await client.close();
      await server.close();
    },
  };
}

/**
 * The transport variants every data-model suite runs under. "encrypted" seals records with the
 * runtime's node:crypto cipher; "encrypted webcrypto" forces the Web Crypto fallback on both sides
 * (the client takes `webCrypto` from the start options), so both paths stay tested.
 */
export const TRANSPORTS: { name: string; start: StartOptions }[] = [
  { name: "plain", start: {} },
  { name: "password", start: { password: "correct horse battery staple" } },
  { name: "encrypted", start: { password: "correct horse battery staple", encrypt: true } },
  { name: "encrypted webcrypto", start: { password: "correct horse battery staple", encrypt: true, webCrypto: true } },
];

/** Asserts that `promise` rejects with an instance of `type` carrying `code`, and returns the error. */
export async function rejectsWith(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => Error,
  code: string,
): Promise<Error> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught !== undefined, `expected a ${type.name}, but it resolved`);
  assert.ok(caught instanceof type, `expected a ${type.name}, got ${String(caught)}`);
  assert.equal((caught as { code?: string }).code, code);
  return caught;
}

/** Checks that a server still serves a new client end to end. */
export async function assertServes(port: number, password?: string): Promise<void> {
  const client = await connect({ hostname: "127.0.0.1", port, password });
  try {
    await using proxy = await client.getProxy().connect();
    const dict = await proxy.createCyberDict(`alive_${crypto.randomUUID()}`);
    await dict.set("k", 42);
    assert.equal(await dict.get("k"), 42);
  } finally {
    await client.close();
  }
}
