/**
 * The server's lifecycle: ports in use, starting twice, closing (idempotent
 * on both sides), and starting again after a close.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, ConnectionClosedError, Server } from "../mod.ts";
import { assertServes, rejectsWith, startServer } from "./_server.ts";

// ------------------------------------------------------------------ ports

test("start on a port that is already taken rejects with 'in use'", async () => {
  const first = new Server();
  const second = new Server();
  try {
    const { port } = await first.start({ hostname: "127.0.0.1", port: 0 });
    await assert.rejects(
      second.start({ hostname: "127.0.0.1", port }),
      (error: Error) => /in use/.test(error.message),
    );
    await assertServes(port);
  } finally {
    await second.close();
    await first.close();
  }
});

test("start twice on the same server rejects", async () => {
  const server = new Server();
  try {
    await server.start({ hostname: "127.0.0.1", port: 0 });
    await assert.rejects(server.start({ hostname: "127.0.0.1", port: 0 }));
  } finally {
    await server.close();
  }
});

// ----------------------------------------------------------------- closing

test("server.close() and client.close() are idempotent, and proxy.close() after client.close() does nothing", async () => {
  const fx = await startServer();
  const proxy = await fx.client.getProxy().connect();
  await fx.client.close();
  await fx.client.close();
  await proxy.close();
  await proxy.close();
  await fx.server.close();
  await Promise.all([fx.server.close(), fx.server.close()]);
  await rejectsWith(
    fx.client.getProxy().connect(),
    ConnectionClosedError,
    "CONNECTION_CLOSED",
  );
  await rejectsWith(
    connect(fx.options),
    ConnectionClosedError,
    "CONNECTION_CLOSED",
  );
});

test("a server that was never started closes cleanly", async () => {
  const server = new Server();
  await server.close();
  await server.close();
});

test("a closed server can be started again on a new port", async () => {
  const server = new Server();
  try {
    await server.start({ hostname: "127.0.0.1", port: 0 });
    await server.close();
    const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
    await assertServes(port);
  } finally {
    await server.close();
  }
});
