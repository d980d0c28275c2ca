/**
 * The memory engine's entry point: `open()`, a client over tables held in
 * this process. Imports no server or socket code, so `client.ts` exports it.
 *
 * @module
 */
import { Client } from "../../client/client.ts";
import { runtime } from "../../runtime/mod.ts";
import type { JournalOptions } from "../../store/journal.ts";
import { Persistence } from "../../store/persistence.ts";
import { Store } from "../../store/store.ts";
import { MemoryEngine } from "./engine.ts";

/** Options of {@link open}. */
export interface OpenOptions {
  /**
   * Snapshot file, the same format as `server.ts --db`: loaded at `open()` if
   * it exists, saved at `client.close()` and every `backupInterval` seconds.
   */
  db?: string;
  /**
   * Seconds between snapshots to `db`; 0 saves only at `close()`. Needs `db`.
   *
   * @default {0}
   */
  backupInterval?: number;
  /**
   * Journal every change to this file before its promise resolves, the same
   * file format as `server.ts --journal`; replayed over the snapshot at `open()`.
   * Compaction writes the snapshot to `db`, or to `<journal>.snapshot` without one.
   */
  journal?: JournalOptions;
  /**
   * Log loads, saves and journal recovery to stderr.
   *
   * @default {false}
   */
  log?: boolean;
}

/**
 * Opens an in-process store of tables: the same `Client`, ops, errors and
 * ordering as `connect()`, with no server and no sockets. Values are copied
 * both ways (a value you read or wrote is never shared with the store).
 *
 * @param options where to keep the tables on disk, if anywhere
 * @returns the client
 * @throws {SnapshotCorruptError} when `db` exists but cannot be read
 * @throws {JournalCorruptError} when the journal has a bad record before its end
 * @throws {TypeError} for `backupInterval` without `db`
 * @example
 * ```ts
 * import { open } from "../../../mod.ts";
 * const client = await open();
 * {
 *   await using proxy = await client.getProxy().connect();
 *   const centre = await proxy.createCyberDict("centre");
 *   await centre.set("content", "Hello CyberDB!");
 *   console.log(await centre.get("content")); // Hello CyberDB!
 * }
 * await client.close();
 * ```
 */
export async function open(options: OpenOptions = {}): Promise<Client> {
  const { db, backupInterval = 0, journal } = options;
  if (backupInterval !== 0 && db === undefined) {
    throw new TypeError("backupInterval needs db: the file to save the snapshots to");
  }
  const store = new Store();
  const log = options.log
    ? (message: string) => console.error(`[cyberdb ${new Date().toISOString()}] ${message}`)
    : () => {};
  const persistence = new Persistence(store, log);
  if (db !== undefined) {
    if (await runtime.exists(db)) await persistence.load(db);
    persistence.setBackup(db, backupInterval);
  }
  try {
    if (journal) await persistence.openJournal(journal);
  } catch (error) {
    await persistence.close();
    throw error;
  }
  return new Client(new MemoryEngine(store, persistence));
}
