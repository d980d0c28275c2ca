/**
 * The append-only journal: every change the server acknowledges, as the
 * request frame that made it, in order.
 *
 * ```
 * "CDBJRNL\0"  8 bytes  magic
 * version      u32 BE   format version (1)
 * epoch        u64 BE   which journal in the history of snapshots this is
 * records      each u32 BE length + u32 BE CRC-32 of the payload + payload
 * ```
 *
 * Appends made in one event-loop turn, by every session, leave in one write
 * and, with `fsync: "always"`, share one fsync (group commit).
 *
 * @module
 */
import type { DiskTimings } from "./durations.ts";
import { concat } from "../protocol/bytes.ts";
import { JournalCorruptError } from "../errors.ts";
import { type AppendFile, runtime, type TimerId } from "../runtime/mod.ts";
import { crc32 } from "./checksum.ts";

/** When the journal is flushed to stable storage (see {@link JournalOptions.fsync}). */
export type FsyncPolicy = "always" | "everysec" | "no";

/** Every journal fsync policy, as `--fsync` and {@link JournalOptions.fsync} accept them. */
export const FSYNC_POLICIES: readonly FsyncPolicy[] = ["always", "everysec", "no"];

/** The fsync policy when none is given. */
export const DEFAULT_FSYNC: FsyncPolicy = "everysec";

/** Default journal size that triggers compaction: 64 MiB. */
export const DEFAULT_JOURNAL_MAX_SIZE = 64 * 1024 * 1024;

/** The journal settings of `server.start({ journal })` and `open({ journal })`. */
export interface JournalOptions {
  /** The journal file. */
  path: string;
  /**
   * `always`: a reply is sent after its change is fsynced; `everysec`:
   * fsync once a second, a process crash loses nothing, power loss up to about a
   * second; `no`: the OS decides when to flush.
   *
   * @default {"everysec"}
   */
  fsync?: FsyncPolicy;
  /**
   * Compact (snapshot + fresh journal) when the journal grows past this many bytes.
   *
   * @default {64 * 1024 * 1024}
   */
  maxSize?: number;
  /**
   * Cut the journal at its first bad record (after copying it aside) instead of refusing to start.
   *
   * @default {false}
   */
  repair?: boolean;
}

const MAGIC = new TextEncoder().encode("CDBJRNL\0");
const VERSION = 1;
/** Bytes before the first record. */
export const JOURNAL_HEADER_SIZE = MAGIC.length + 4 + 8;
const RECORD_HEADER_SIZE = 8;

/** What a journal file holds. */
export interface ParsedJournal {
  /** Its epoch, or `undefined` when even the header is torn (a crash right after creating it). */
  epoch?: number;
  /** Each record's payload with its offset in the file. */
  records: { offset: number; payload: Uint8Array }[];
  /** Bytes up to the end of the last good record. */
  validLength: number;
  /** Offset of a bad record followed by a good one, if any (corruption, not a torn write). */
  corruptAt?: number;
}

/**
 * Reads a journal file's records. A torn end (a bad record that no good one follows) is left out
 * (`validLength` stops before it); a bad record with a good one after it sets `corruptAt`.
 *
 * @throws {JournalCorruptError} when the file is not a cyberdb journal
 */
export function parseJournal(bytes: Uint8Array, path: string): ParsedJournal {
  if (bytes.length < JOURNAL_HEADER_SIZE) {
    if (MAGIC.subarray(0, Math.min(bytes.length, MAGIC.length)).every((b, i) => bytes[i] === b)) {
      return { records: [], validLength: 0 };
    }
    throw new JournalCorruptError(`${path} is not a cyberdb journal`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!MAGIC.every((b, i) => bytes[i] === b) || view.getUint32(8) !== VERSION) {
    throw new JournalCorruptError(`${path} is not a cyberdb journal of version ${VERSION}`);
  }
  // Read as bigint: past 2^53 - 1 a number would round, and match the journal to the wrong snapshot.
  const wideEpoch = view.getBigUint64(12);
  if (wideEpoch > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new JournalCorruptError(`${path} has epoch ${wideEpoch}, past 2^53 - 1; it was not written by cyberdb`);
  }
  const epoch = Number(wideEpoch);
  const records: ParsedJournal["records"] = [];
  let at = JOURNAL_HEADER_SIZE;
  while (at < bytes.length) {
    if (!isRecord(bytes, view, at)) {
      // The torn end of the last write (cut short, or zeros where a crash lost the data), unless a
      // good record follows: then this one is damage, and dropping it would drop those too.
      if (recordAfter(bytes, view, at)) return { epoch, records, validLength: at, corruptAt: at };
      break;
    }
    const end = at + RECORD_HEADER_SIZE + view.getUint32(at);
    records.push({ offset: at, payload: bytes.subarray(at + RECORD_HEADER_SIZE, end) });
    at = end;
  }
  return { epoch, records, validLength: at };
}

/**
 * Whether a whole, intact record starts at `at`: it fits in the file, is not empty (a request
 * frame never is; eight zero bytes would pass the CRC) and matches its CRC.
 */
function isRecord(bytes: Uint8Array, view: DataView, at: number): boolean {
  if (at + RECORD_HEADER_SIZE > bytes.length) return false;
  const length = view.getUint32(at);
  if (length === 0 || at + RECORD_HEADER_SIZE + length > bytes.length) return false;
  return crc32(bytes.subarray(at + RECORD_HEADER_SIZE, at + RECORD_HEADER_SIZE + length)) === view.getUint32(at + 4);
}

/** CRC work allowed when looking for a good record after a bad one; past it, assume there is one. */
const SCAN_BUDGET = 256 * 1024 * 1024;

/**
 * Whether a good record starts anywhere after the bad one at `bad`. Candidates are positions whose
 * length fits in the file and whose payload starts like a request (a MessagePack array of 3 or more).
 * When the search would cost more than {@link SCAN_BUDGET} bytes of CRC, answers `true`: refusing
 * to start (until `--repair-journal`) is safer than dropping what may be good records.
 */
function recordAfter(bytes: Uint8Array, view: DataView, bad: number): boolean {
  let budget = SCAN_BUDGET;
  for (let at = bad + 1; at + RECORD_HEADER_SIZE < bytes.length; at++) {
    const length = view.getUint32(at);
    if (length === 0 || at + RECORD_HEADER_SIZE + length > bytes.length) continue;
    const first = bytes[at + RECORD_HEADER_SIZE];
    if (!((first >= 0x93 && first <= 0x9f) || first === 0xdc || first === 0xdd)) continue;
    if ((budget -= length) < 0) return true;
    if (isRecord(bytes, view, at)) return true;
  }
  return false;
}

/** The header of a new journal file. */
function header(epoch: number): Uint8Array {
  const out = new Uint8Array(JOURNAL_HEADER_SIZE);
  const view = new DataView(out.buffer);
  out.set(MAGIC);
  view.setUint32(8, VERSION);
  view.setBigUint64(12, BigInt(epoch));
  return out;
}

interface Waiter {
  upTo: number;
  resolve(): void;
  reject(error: Error): void;
}

/** An open journal file being appended to. */
export class Journal {
  /** The journal's epoch. */
  readonly epoch: number;
  /** Bytes in the file once every append so far is written, header included. */
  size: number;
  #policy: FsyncPolicy;
  #file: AppendFile | undefined;
  #opening: Promise<void> | undefined;
  #pending: Uint8Array[] = [];
  #appended = 0;
  #written = 0;
  #waiters: Waiter[] = [];
  #flushing: Promise<void> | undefined;
  #dirty = false;
  #timer: TimerId | undefined;
  #failure: Error | undefined;
  #timings: DiskTimings | undefined;

  private constructor(epoch: number, size: number, policy: FsyncPolicy, timings: DiskTimings | undefined) {
    this.epoch = epoch;
    this.size = size;
    this.#policy = policy;
    this.#timings = timings;
    if (policy === "everysec") {
      this.#timer = setInterval(() => void this.#syncIfDirty(), 1000);
    }
  }

  /**
   * Starts a new, empty journal file at `path`, replacing any file there,
   * once `after` resolves. Appends are accepted at once and written once the
   * file is ready. Each write and fsync is timed into `timings`, when given.
   */
  static create(
    path: string,
    epoch: number,
    policy: FsyncPolicy,
    after: Promise<void> = Promise.resolve(),
    timings?: DiskTimings,
  ): Journal {
    const journal = new Journal(epoch, JOURNAL_HEADER_SIZE, policy, timings);
    journal.#opening = (async () => {
      await after;
      await runtime.writeFileAtomic(path, header(epoch));
      journal.#file = await runtime.openAppend(path);
    })().catch((error) => journal.#fail(error));
    return journal;
  }

  /** Why the journal stopped accepting changes (a failed write or fsync), if it did. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Resolves once the file is open for appending; rejects if it could not be made. */
  async ready(): Promise<void> {
    await this.#opening;
    if (this.#failure) throw this.#failure;
  }

  /** Continues appending to an existing journal whose valid content is `size` bytes. */
  static async resume(
    path: string,
    epoch: number,
    size: number,
    policy: FsyncPolicy,
    timings?: DiskTimings,
  ): Promise<Journal> {
    const journal = new Journal(epoch, size, policy, timings);
    journal.#file = await runtime.openAppend(path);
    return journal;
  }

  /** Queues one change; call {@link commit} before acknowledging it. */
  append(payload: Uint8Array): void {
    const record = new Uint8Array(RECORD_HEADER_SIZE + payload.length);
    const view = new DataView(record.buffer);
    view.setUint32(0, payload.length);
    view.setUint32(4, crc32(payload));
    record.set(payload, RECORD_HEADER_SIZE);
    this.#pending.push(record);
    this.size += record.length;
    this.#appended++;
  }

  /**
   * Makes every change appended so far durable under the policy: with `no`
   * and `everysec`, written to the OS at once (one synchronous write), so a
   * crash of the process loses nothing; with `always`, also fsynced, and
   * changes appended while an fsync is running share the next one (group
   * commit).
   *
   * @returns `undefined` when done already, or a promise to await before acknowledging
   * @throws {Error} the write or fsync failure; the journal refuses everything after one
   */
  commit(): Promise<void> | undefined {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#written >= this.#appended) return undefined;
    if (this.#policy !== "always" && this.#file !== undefined && this.#flushing === undefined) {
      try {
        const started = performance.now();
        this.#file.writeSync(concat(this.#pending));
        this.#timings?.journalWrite.observe((performance.now() - started) / 1000);
      } catch (error) {
        this.#fail(error as Error);
        return Promise.reject(this.#failure);
      }
      this.#pending = [];
      this.#written = this.#appended;
      this.#dirty = true;
      return undefined;
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ upTo: this.#appended, resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  async #flush(): Promise<void> {
    try {
      await this.#opening;
      while (this.#pending.length > 0 && !this.#failure) {
        const upTo = this.#appended;
        const records = this.#pending;
        this.#pending = [];
        const started = performance.now();
        await this.#file!.write(concat(records));
        this.#timings?.journalWrite.observe((performance.now() - started) / 1000);
        this.#dirty = true;
        if (this.#policy === "always") await this.#syncIfDirty();
        if (this.#failure) break;
        this.#written = upTo;
        this.#waiters = this.#waiters.filter((waiter) => waiter.upTo > upTo || void waiter.resolve());
      }
    } catch (error) {
      this.#fail(error as Error);
    } finally {
      this.#flushing = undefined;
    }
  }

  async #syncIfDirty(): Promise<void> {
    if (!this.#dirty || this.#file === undefined) return;
    this.#dirty = false;
    try {
      const started = performance.now();
      await this.#file.sync();
      this.#timings?.journalSync.observe((performance.now() - started) / 1000);
    } catch (error) {
      this.#fail(error as Error);
    }
  }

  #fail(error: Error): void {
    this.#failure ??= new Error(`the journal cannot be written: ${error.message}`, { cause: error });
    for (const waiter of this.#waiters) waiter.reject(this.#failure);
    this.#waiters = [];
  }

  /** Writes and fsyncs what is pending, then closes the file. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.commit()?.catch(() => {});
    await this.#flushing;
    this.#dirty = true;
    await this.#syncIfDirty();
    this.#file?.close();
  }
}
