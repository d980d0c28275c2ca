/**
 * The runtime interface itself, in whichever runtime runs the tests (Deno's
 * `deno.ts`, or Node's `node.ts` under `deno task test:node`): TCP reads,
 * backpressure, half-close and closing; files, appends and atomic writes.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Conn, type Listener, runtime } from "../src/runtime/mod.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A listener on a free loopback port, a connection to it, and the accepted end. */
async function connectedPair(): Promise<{ listener: Listener; client: Conn; server: Conn; close(): void }> {
  const listener = await runtime.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    runtime.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  assert.ok(server !== null);
  return {
    listener,
    client,
    server,
    close() {
      client.close();
      server.close();
      listener.close();
    },
  };
}

/** Reads until end of stream, copying each chunk; at most `limit` bytes. */
async function readAll(conn: Conn, limit: number, pause = 0): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (let chunk = await conn.read(); chunk !== null; chunk = await conn.read()) {
    assert.strictEqual(chunk.constructor, Uint8Array, "read() handed out something other than a plain Uint8Array");
    chunks.push(chunk.slice());
    total += chunk.length;
    assert.ok(total <= limit, `more than ${limit} bytes arrived`);
    if (pause > 0 && chunks.length % 8 === 0) await sleep(pause);
  }
  return chunks;
}

function joined(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

test(`${runtime.name} runtime: 8 MB written at once reach a slow reader intact, in order, as plain Uint8Array chunks`, async () => {
  const pair = await connectedPair();
  try {
    const data = new Uint8Array(8 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >>> 12)) & 0xff;
    const reading = readAll(pair.server, data.length, 2);
    await pair.client.write(data);
    await pair.client.closeWrite();
    const got = joined(await reading);
    assert.equal(got.length, data.length);
    let firstDiff = -1;
    for (let i = 0; i < data.length && firstDiff < 0; i++) if (got[i] !== data[i]) firstDiff = i;
    assert.equal(firstDiff, -1, "the bytes differ");
  } finally {
    pair.close();
  }
});

test(`${runtime.name} runtime: a reader that does not read holds the writer back instead of buffering everything`, async () => {
  const pair = await connectedPair();
  try {
    const size = 64 * 1024 * 1024;
    let written = false;
    const writing = pair.client.write(new Uint8Array(size)).then(() => written = true);
    await sleep(300);
    assert.equal(written, false, "64 MB were taken in while nobody read: no backpressure");
    let total = 0;
    for (let chunk = await pair.server.read(); chunk !== null && total < size; chunk = await pair.server.read()) {
      total += chunk.length;
      if (total >= size) break;
    }
    await writing;
    assert.equal(total, size);
  } finally {
    pair.close();
  }
});

test(`${runtime.name} runtime: after closeWrite() the peer reads end of stream and can still answer`, async () => {
  const pair = await connectedPair();
  try {
    await pair.client.write(new TextEncoder().encode("question"));
    await pair.client.closeWrite();
    const asked = joined(await readAll(pair.server, 1024));
    assert.equal(new TextDecoder().decode(asked), "question");
    await pair.server.write(new TextEncoder().encode("answer"));
    pair.server.close();
    assert.equal(new TextDecoder().decode(joined(await readAll(pair.client, 1024))), "answer");
  } finally {
    pair.close();
  }
});

test(`${runtime.name} runtime: close() ends reads with null on both sides, and a later write rejects`, async () => {
  const pair = await connectedPair();
  try {
    const pending = pair.server.read();
    pair.client.close();
    assert.equal(await pending, null);
    assert.equal(await pair.client.read(), null);
    pair.client.close(); // twice is fine
    await assert.rejects(pair.client.write(new Uint8Array([1])));
  } finally {
    pair.close();
  }
});

test(`${runtime.name} runtime: listener.close() resolves a waiting accept() with null; the port is free again`, async () => {
  const listener = await runtime.listen({ hostname: "127.0.0.1", port: 0 });
  const waiting = listener.accept();
  listener.close();
  listener.close();
  assert.equal(await waiting, null);
  assert.equal(await listener.accept(), null);
  const again = await runtime.listen({ hostname: "127.0.0.1", port: listener.addr.port });
  again.close();
});

test(`${runtime.name} runtime: listening on a port in use rejects saying so`, async () => {
  const taken = await runtime.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await assert.rejects(runtime.listen({ hostname: "127.0.0.1", port: taken.addr.port }), /already in use/);
  } finally {
    taken.close();
  }
});

test(`${runtime.name} runtime: files — atomic write, plain Uint8Array reads, appends, rename, truncate, copy, remove`, async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_runtime_"));
  try {
    const path = join(dir, "data");
    assert.equal(await runtime.exists(path), false);
    await runtime.writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    await runtime.writeFileAtomic(path, new Uint8Array([4, 5, 6, 7]));
    assert.deepEqual(await readdir(dir), ["data"], "a temporary file was left behind");
    const read = await runtime.readFile(path);
    assert.strictEqual(read.constructor, Uint8Array);
    assert.deepStrictEqual(read, new Uint8Array([4, 5, 6, 7]));
    assert.equal((await stat(path)).mode & 0o777, 0o600);

    const log = join(dir, "log");
    const file = await runtime.openAppend(log);
    try {
      await file.write(new Uint8Array([1, 2]));
      file.writeSync(new Uint8Array([3]));
      await file.write(new Uint8Array([4, 5]));
      await file.sync();
    } finally {
      file.close();
      file.close();
    }
    assert.deepStrictEqual(await runtime.readFile(log), new Uint8Array([1, 2, 3, 4, 5]));
    await runtime.truncate(log, 2);
    assert.deepStrictEqual(await runtime.readFile(log), new Uint8Array([1, 2]));

    await runtime.copyFile(log, join(dir, "copy"));
    await runtime.rename(join(dir, "copy"), path);
    assert.deepStrictEqual(await runtime.readFile(path), new Uint8Array([1, 2]));
    await runtime.remove(path);
    await runtime.remove(path); // a missing file is not an error
    assert.equal(await runtime.exists(path), false);
    await assert.rejects(runtime.readFile(path));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(`${runtime.name} runtime: is picked by whether a Deno global exists`, () => {
  assert.equal(runtime.name, "Deno" in globalThis ? "deno" : "node");
  assert.ok(Array.isArray(runtime.args()));
  assert.ok(runtime.memoryUsage() > 0);
});

test(`${runtime.name} runtime: trimMemory() gives nothing to wait for, and a call while a trim runs is a no-op`, async () => {
  // Freed 1 MiB buffers are what glibc keeps resident; the trim itself runs off the event loop (not timed here:
  // on a loaded machine any few lines can take tens of ms).
  const buffers = Array.from({ length: 32 }, () => new Uint8Array(2 ** 20).fill(1));
  for (const buffer of buffers) (buffer.buffer as ArrayBuffer & { transfer?(n: number): ArrayBuffer }).transfer?.(0);
  assert.equal(runtime.trimMemory(), undefined);
  assert.equal(runtime.trimMemory(), undefined);
  await new Promise((resolve) => setTimeout(resolve, 300)); // the trim under way ends before the test does
  assert.equal(runtime.trimMemory(), undefined);
  await new Promise((resolve) => setTimeout(resolve, 300));
});
