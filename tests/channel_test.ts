/**
 * The batching channel over a connection whose writes complete only when
 * the test says so: frames queued in one turn leave in one write, and a
 * frame queued at any moment — even the instant a write completes — is
 * written without waiting for another frame to come along.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Channel } from "../src/protocol/channel.ts";
import type { Conn } from "../src/runtime/mod.ts";

/** A connection that records writes and completes each only on {@link ManualConn.completeWrite}. */
class ManualConn implements Conn {
  readonly remoteAddr = { hostname: "127.0.0.1", port: 1 };
  readonly bytesRead = 0;
  bytesWritten = 0;
  readonly written: Uint8Array[] = [];
  #pending: (() => void)[] = [];

  read(): Promise<Uint8Array | null> {
    return Promise.resolve(null);
  }

  write(data: Uint8Array): Promise<void> {
    this.written.push(data.slice());
    return new Promise((resolve) => this.#pending.push(resolve));
  }

  /** Completes the oldest write still pending. */
  completeWrite(): void {
    this.#pending.shift()?.();
  }

  closeWrite(): Promise<void> {
    return Promise.resolve();
  }

  keepAlive(): void {}

  close(): void {
    for (const resolve of this.#pending.splice(0)) resolve();
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const frame = (...body: number[]) => [0, 0, 0, body.length, ...body];

test("frames queued in one turn leave in one write", async () => {
  const conn = new ManualConn();
  const channel = new Channel(conn);
  try {
    channel.send(new Uint8Array([1]));
    channel.send(new Uint8Array([2, 3]));
    channel.send(new Uint8Array([]));
    await tick();
    assert.deepEqual(conn.written.map((w) => [...w]), [[...frame(1), ...frame(2, 3), ...frame()]]);
  } finally {
    channel.close();
  }
});

test("a frame queued just as a write completes is written without waiting for another frame", async () => {
  const conn = new ManualConn();
  const channel = new Channel(conn);
  try {
    channel.send(new Uint8Array([1]));
    await tick();
    assert.equal(conn.written.length, 1);
    // The write completes, and in the same turn — after the writer found the
    // queue empty but before it marked itself idle — another frame is queued.
    conn.completeWrite();
    queueMicrotask(() => channel.send(new Uint8Array([2])));
    await tick();
    assert.deepEqual(conn.written.map((w) => [...w]), [frame(1), frame(2)], "the second frame must not be stranded");
    conn.completeWrite();
    await channel.drain();
    assert.equal(channel.queuedBytes, 0);
  } finally {
    channel.close();
  }
});

test("frames queued while a write is in flight go out together in the next write", async () => {
  const conn = new ManualConn();
  const channel = new Channel(conn);
  try {
    channel.send(new Uint8Array([1]));
    await tick();
    channel.send(new Uint8Array([2]));
    channel.send(new Uint8Array([3]));
    await tick();
    assert.equal(conn.written.length, 1, "one write at a time");
    conn.completeWrite();
    await tick();
    assert.deepEqual(conn.written.map((w) => [...w]), [frame(1), [...frame(2), ...frame(3)]]);
    conn.completeWrite();
  } finally {
    channel.close();
  }
});
