/**
 * Everything the server writes to disk: snapshots (`load`, `save`,
 * periodic backups) and the journal (recovery at start, appends, and
 * compaction into a fresh snapshot + journal).
 *
 * At every instant, the snapshot and the journal files on disk describe
 * every acknowledged change:
 *
 * - a snapshot records the journal position (epoch, offset) it reflects;
 * - compaction captures the tables, switches appends to a new journal of
 *   epoch n + 1 (the old file renamed to `<journal>.old` first), writes the
 *   snapshot at (n + 1, start), and only then removes `<journal>.old`;
 * - recovery loads the snapshot, replays `<journal>.old` and `<journal>`
 *   from the snapshot's position, and skips journals the snapshot covers.
 *
 * @module
 */
import { BadRequestError, JournalCorruptError, SnapshotCorruptError } from "../errors.ts";
import { runtime, type TimerId } from "../runtime/mod.ts";
import {
  DEFAULT_FSYNC,
  DEFAULT_JOURNAL_MAX_SIZE,
  FSYNC_POLICIES,
  type FsyncPolicy,
  Journal,
  JOURNAL_HEADER_SIZE,
  type JournalOptions,
  parseJournal,
} from "./journal.ts";
import { decodeJournalRecord } from "./request.ts";
import { capture, decodeSnapshot, encodeCapture, type JournalPosition } from "./snapshot.ts";
import type { Store } from "./store.ts";
import { type DiskTimings, diskTimings } from "./durations.ts";
import type { LogFields, LogLevel } from "../log.ts";

/** The snapshots and journal of one server. */
export class Persistence {
  /** The journal, once opened. */
  journal: Journal | undefined;
  #store: Store;
  #log: (message: string, level?: LogLevel, fields?: LogFields) => void;
  /** Journal position of the tables in memory before any journal was opened (from the last `load`). */
  #loaded: JournalPosition = { epoch: 0, offset: 0 };
  #didLoad = false;
  #journalOptions: Required<Omit<JournalOptions, "repair">> | undefined;
  #backup: { path: string; timer?: TimerId } | undefined;
  #saving: Promise<void> = Promise.resolve();
  #compacting: Promise<void> | undefined;
  /** How long journal writes, fsyncs, snapshot saves and the last load took, for the metrics. */
  readonly timings: DiskTimings = diskTimings();
  /** When the last snapshot finished, and how. */
  lastSnapshot: { at: Date; path: string; ok: boolean; error?: string; loaded?: boolean } | undefined;

  /**
   * @param store the tables
   * @param log writes a log line
   */
  constructor(store: Store, log: (message: string, level?: LogLevel, fields?: LogFields) => void) {
    this.#store = store;
    this.#log = log;
  }

  /** The journal's file, size, epoch and fsync policy, for `info`. */
  journalInfo(): { path: string; size: number; epoch: number; fsync: string } | null {
    if (!this.journal || !this.#journalOptions) return null;
    const { path, fsync } = this.#journalOptions;
    return { path, size: this.journal.size, epoch: this.journal.epoch, fsync };
  }

  /** Where the journal stands now (what a snapshot taken now reflects). */
  #position(): JournalPosition {
    return this.journal ? { epoch: this.journal.epoch, offset: this.journal.size } : { ...this.#loaded };
  }

  /** The path snapshots go to at backups, compaction and shutdown. */
  get snapshotPath(): string | undefined {
    return this.#backup?.path ?? (this.#journalOptions && `${this.#journalOptions.path}.snapshot`);
  }

  /**
   * Replaces every table with those of a snapshot file; on error nothing changes.
   *
   * @throws {SnapshotCorruptError} naming the file
   */
  async load(path: string): Promise<void> {
    let bytes: Uint8Array;
    try {
      bytes = await runtime.readFile(path);
    } catch (error) {
      throw new SnapshotCorruptError(`cannot read snapshot ${path}: ${(error as Error).message}`, { cause: error });
    }
    const started = performance.now();
    const { store, position } = decodeSnapshot(bytes, path);
    // A compaction under way snapshots the tables at some point: let it finish before they change.
    for (let i = 0; i < 100 && this.#compacting; i++) await this.#compacting.catch(() => {});
    this.#store.replaceAll(store.tables);
    this.#loaded = position;
    this.#didLoad = true;
    const count = store.tables.size;
    let entries = 0;
    for (const table of store.tables.values()) entries += table.size;
    const took = performance.now() - started;
    this.timings.lastLoad = took / 1000;
    const ms = Math.round(took * 10) / 10;
    this.lastSnapshot = { at: new Date(), path, ok: true, loaded: true };
    this.#log(
      `loaded ${count} ${count === 1 ? "table" : "tables"} and ${entries} ${
        entries === 1 ? "entry" : "entries"
      } from ${path} in ${ms} ms`,
      "info",
      { tables: count, entries, ms, bytes: bytes.length, path },
    );
    // The journal no longer describes these tables: start a fresh one from them.
    if (this.journal) {
      this.#compacting = this.#compact(true).finally(() => this.#compacting = undefined);
      await this.#compacting;
    }
  }

  /** Writes an atomic snapshot of the tables as they are at the call. Saves never overlap. */
  save(path: string): Promise<void> {
    return this.#write(path, this.#position());
  }

  #write(path: string, position: JournalPosition): Promise<void> {
    const capturing = performance.now();
    const captured = capture(this.#store, position);
    const captureTime = performance.now() - capturing;
    const saved = this.#saving.then(async () => {
      try {
        const started = performance.now(); // not counting the wait for the save before it
        const bytes = await encodeCapture(captured);
        await runtime.writeFileAtomic(path, bytes);
        this.timings.snapshotSave.observe((captureTime + performance.now() - started) / 1000);
        this.lastSnapshot = { at: new Date(), path, ok: true };
        this.#log(`saved ${bytes.length} bytes to ${path}`, "info", { bytes: bytes.length, path });
      } catch (error) {
        this.lastSnapshot = { at: new Date(), path, ok: false, error: (error as Error).message };
        throw error;
      }
    });
    this.#saving = saved.catch(() => {});
    return saved;
  }

  /** Snapshots every `interval` seconds (0: only at shutdown); with a journal each backup is a compaction. */
  setBackup(path: string, interval: number): void {
    if (!(interval >= 0)) throw new RangeError("the backup interval must be ≥ 0 seconds");
    if (this.#backup?.timer !== undefined) clearInterval(this.#backup.timer);
    const backup: { path: string; timer?: TimerId } = { path };
    if (interval > 0) {
      let running = false;
      backup.timer = setInterval(() => {
        if (running) return;
        running = true;
        this.checkpoint()
          .catch((error) => this.#log(`backup to ${path} failed: ${(error as Error).message}`, "error"))
          .finally(() => running = false);
      }, interval * 1000);
    }
    this.#backup = backup;
  }

  /** A snapshot to the backup path: a compaction when journaling, a plain save otherwise. */
  checkpoint(): Promise<void> {
    if (this.journal) return this.compact();
    return this.#backup ? this.save(this.#backup.path) : Promise.resolve();
  }

  /**
   * Recovers from the journal (snapshot already loaded), then keeps journaling.
   *
   * @throws {JournalCorruptError} for a bad record before the end, or a journal that does not continue the snapshot
   */
  async openJournal(options: JournalOptions): Promise<void> {
    const policy: FsyncPolicy = options.fsync ?? DEFAULT_FSYNC;
    if (!FSYNC_POLICIES.includes(policy)) {
      throw new TypeError(`fsync must be "always", "everysec" or "no", not ${JSON.stringify(policy)}`);
    }
    this.#journalOptions = { path: options.path, fsync: policy, maxSize: options.maxSize ?? DEFAULT_JOURNAL_MAX_SIZE };
    const { path } = options;
    // The journal continues a snapshot: load it, unless the caller loaded one already.
    if (!this.#didLoad && await runtime.exists(this.snapshotPath!)) await this.load(this.snapshotPath!);
    const old = await this.#readJournal(`${path}.old`, options.repair);
    const live = await this.#readJournal(path, options.repair);
    let expected = this.#loaded;
    let replayed = 0;
    for (const journal of [old, live]) {
      if (journal?.epoch === undefined || journal.epoch < expected.epoch) continue; // covered by the snapshot
      if (journal.epoch > expected.epoch + 1) {
        throw new JournalCorruptError(
          `journal ${journal.path} (epoch ${journal.epoch}) does not continue the loaded snapshot (epoch ` +
            `${this.#loaded.epoch}); load the snapshot it belongs to (--db), or move the journal away`,
        );
      }
      const from = journal.epoch === expected.epoch ? expected.offset : 0;
      replayed += this.#replay(journal.records, from, journal.path);
      expected = { epoch: journal.epoch, offset: Math.max(from, journal.validLength) };
    }
    if (replayed > 0) this.#log(`replayed ${replayed} changes from the journal`);
    if (old === undefined && live?.epoch === expected.epoch && live.validLength >= expected.offset) {
      this.journal = await Journal.resume(path, live.epoch, live.validLength, policy, this.timings);
      return;
    }
    // No journal to continue (first start, an interrupted compaction, a torn header): snapshot
    // everything first, then start the journal that continues that snapshot.
    const epoch = expected.epoch + 1;
    await this.#write(this.snapshotPath!, { epoch, offset: JOURNAL_HEADER_SIZE });
    this.journal = Journal.create(path, epoch, policy, undefined, this.timings);
    await this.journal.ready();
    await runtime.remove(`${path}.old`);
  }

  async #readJournal(path: string, repair = false) {
    if (!await runtime.exists(path)) return undefined;
    const bytes = await runtime.readFile(path);
    const parsed = parseJournal(bytes, path);
    if (parsed.corruptAt !== undefined) {
      if (!repair) {
        throw new JournalCorruptError(
          `journal ${path} has a bad record at byte ${parsed.corruptAt} of ${bytes.length}, before its end; ` +
            `start with --repair-journal to cut it there (the original is copied aside first)`,
        );
      }
      const aside = `${path}.corrupt-${Date.now()}`;
      await runtime.copyFile(path, aside);
      await runtime.truncate(path, parsed.corruptAt);
      this.#log(
        `repaired journal ${path}: cut at byte ${parsed.corruptAt}, dropping ${bytes.length - parsed.corruptAt} ` +
          `bytes; the original is in ${aside}`,
        "warn",
      );
    } else if (parsed.validLength < bytes.length) {
      this.#log(
        `journal ${path} ends with a torn record (a crash mid-write); dropped its ` +
          `${bytes.length - parsed.validLength} bytes`,
        "warn",
      );
      if (parsed.epoch !== undefined) await runtime.truncate(path, parsed.validLength);
    }
    return { ...parsed, path };
  }

  #replay(records: { offset: number; payload: Uint8Array }[], from: number, path: string): number {
    let count = 0;
    for (const { offset, payload } of records) {
      if (offset < Math.max(from, JOURNAL_HEADER_SIZE)) continue;
      let request: unknown[];
      try {
        request = decodeJournalRecord(payload, this.#store);
      } catch (error) {
        if (!(error instanceof BadRequestError)) {
          // A large request on a table that is not there: it failed the same way when it came in.
          this.#log(`replaying a record at byte ${offset} of ${path} failed: ${(error as Error).message}`, "warn");
          continue;
        }
        throw new JournalCorruptError(
          `journal ${path} has a record at byte ${offset} that cannot be replayed (${error.message.slice(0, 200)}); ` +
            `restore the journal from a backup, or move it away to start from the snapshot alone`,
        );
      }
      const [, op, table, ...args] = request;
      try {
        this.#store.apply(op, table, args);
      } catch (error) {
        this.#log(`replaying ${String(op)} on ${String(table)} failed: ${(error as Error).message}`, "warn");
      }
      count++;
    }
    return count;
  }

  /**
   * Writes a snapshot and starts a fresh journal, atomically. Never runs twice at once.
   */
  compact(): Promise<void> {
    this.#compacting ??= this.#compact().finally(() => this.#compacting = undefined);
    return this.#compacting;
  }

  /**
   * @param afterLoad the tables were just replaced (`load`): neither the snapshot nor the journal on
   *   disk lead to them, so the snapshot is taken at the switch (the start of the new journal) and the
   *   new journal opens, so changes to the new tables are acknowledged, only once it is written
   */
  async #compact(afterLoad = false): Promise<void> {
    const options = this.#journalOptions;
    if (!options || !this.journal) return;
    const { path } = options;
    if (!afterLoad && await runtime.exists(`${path}.old`)) {
      // An earlier compaction failed before its snapshot: the snapshot on disk still needs
      // `<journal>.old`, and renaming the journal over it would lose its changes. Cover it first.
      await this.save(this.snapshotPath!);
      await runtime.remove(`${path}.old`);
    }
    const old = this.journal;
    const epoch = old.epoch + 1;
    // From this synchronous step on, changes go to the new journal, which opens once the old
    // one is flushed and moved aside. The snapshot then records where in the new one it stands.
    const saved = afterLoad ? this.#write(this.snapshotPath!, { epoch, offset: JOURNAL_HEADER_SIZE }) : undefined;
    const moved = Promise.all([old.close(), saved]).then(() => runtime.rename(path, `${path}.old`));
    this.journal = Journal.create(path, epoch, options.fsync, moved, this.timings);
    await this.journal.ready();
    await (saved ?? this.save(this.snapshotPath!));
    await runtime.remove(`${path}.old`);
    this.#log(`compacted: snapshot ${this.snapshotPath}, fresh journal of epoch ${this.journal.epoch}`);
  }

  /** Compacts if the journal grew past its limit; call after commits. */
  maybeCompact(): void {
    if (this.journal && this.#journalOptions && this.journal.size > this.#journalOptions.maxSize) {
      this.compact().catch((error) => this.#log(`compaction failed: ${(error as Error).message}`, "error"));
    }
  }

  /** Stops backups, waits for saves and compaction, and closes the journal (fsynced). */
  async close(): Promise<void> {
    if (this.#backup?.timer !== undefined) clearInterval(this.#backup.timer);
    this.#backup = this.#backup && { path: this.#backup.path };
    await this.#compacting?.catch(() => {});
    await this.#saving;
    const journal = this.journal;
    await journal?.close();
    if (journal) {
      // The tables in memory are exactly what the journal describes: a later start on it
      // continues from its end instead of replaying it over tables that already hold it.
      this.#loaded = { epoch: journal.epoch, offset: journal.size };
      this.#didLoad = true;
    }
    this.journal = undefined;
  }
}
