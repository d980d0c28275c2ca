/**
 * Test helpers for the journal tests: temporary directories, journal file
 * records and epochs, table dumps and digests, servers started on a journal
 * (in this process, or as `server.ts` children).
 *
 * @module
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, CyberDict, CyberList, type FsyncPolicy, type Proxy, Server } from "../mod.ts";
import { encode } from "../src/protocol/codec.ts";
import { type ChildServer, LISTENING, spawnServer } from "./_child_server.ts";

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a file exists. */
export async function exists(path: string): Promise<boolean> {
  return await stat(path).then(() => true, () => false);
}

/** A file's bytes as a plain Uint8Array (Node's readFile gives a Buffer, which deepEqual tells apart). */
export async function bytesOf(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(path));
}

/** Runs `body` with a fresh temporary directory, removed afterwards. */
export async function inTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_journal_"));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Resolves to `promise`'s value, or fails after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(`${what}: over ${ms} ms`)), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The records of a journal file: where each starts and its whole size (8-byte header + payload). */
export function journalRecords(bytes: Uint8Array): { offset: number; size: number }[] {
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), "CDBJRNL\0");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records = [];
  for (let at = 20; at + 8 <= bytes.length;) {
    const size = 8 + view.getUint32(at);
    if (at + size > bytes.length) break;
    records.push({ offset: at, size });
    at += size;
  }
  return records;
}

/** The epoch in a journal file's header. */
export function journalEpoch(bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(12));
}

/** Every table's name, kind and content, in order, as the server reports them. */
export async function dumpTables(proxy: Proxy): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const { name, type } of await proxy.tables()) {
    out.push([
      name,
      type,
      type === "CyberDict" ? await new CyberDict(proxy, name).entries() : await new CyberList(proxy, name).toArray(),
    ]);
  }
  return out;
}

/** SHA-256 of every table's name, kind and content, encoded with the wire codec. */
export async function digest(tables: unknown[]): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", encode(tables) as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The port a child server listens on, from its "listening on" log line. */
export async function listeningPort(child: ChildServer): Promise<number> {
  const [, port] = await child.waitForStderr(LISTENING, 30_000);
  return Number(port);
}

/** The journal options the tests start servers with. */
export type JournalStart = { path: string; fsync?: FsyncPolicy; maxSize?: number; repair?: boolean };

/** Starts `server` on a journal, runs `body` with a proxy, then closes the client (not the server). */
export async function serveJournal(server: Server, journal: JournalStart, body: (proxy: Proxy) => Promise<void>) {
  const { port } = await server.start({ port: 0, journal });
  const client = await connect({ port });
  try {
    await using proxy = await client.getProxy().connect();
    await body(proxy);
  } finally {
    await client.close();
  }
}

/** The list `name` as a new Server recovers it from the journal (and its snapshot). */
export async function recoveredList(journal: JournalStart, name = "l"): Promise<unknown[]> {
  const server = new Server();
  let items: unknown[] = [];
  try {
    await serveJournal(server, journal, async (proxy) => {
      items = await (await proxy.getCyberList(name)).toArray();
    });
  } finally {
    await server.close();
  }
  return items;
}

/** Starts `server.ts --journal <journal> --fsync always` and connects a client. */
export async function cliServer(journal: string, extra: string[] = []) {
  const child = spawnServer(["--port", "0", "--journal", journal, "--fsync", "always", ...extra]);
  try {
    const port = await listeningPort(child);
    const client = await connect({ hostname: "127.0.0.1", port });
    return { child, client };
  } catch (error) {
    await child.kill();
    throw error;
  }
}
