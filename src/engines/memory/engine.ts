/**
 * The memory engine: the store in this process, no sockets. Each request
 * takes the same path as on a server's session: it is encoded to the
 * MessagePack frame a client would send, decoded and applied by
 * `applyRequest` (so it is validated exactly as over the network and an op
 * added to the store works here too), journaled when it writes, and its
 * reply is encoded and decoded again. A value you read or wrote is
 * therefore never shared with the store.
 *
 * Requests are applied synchronously, in the order they are made, when they
 * are made. Their promises resolve in that order too, once per turn of the
 * event loop, after the journal has every change they could have seen (one
 * commit, and with `fsync: "always"` one fsync, for all of them).
 *
 * @module
 */
import type { Engine, EngineConnection } from "../../client/engine.ts";
import type { WatchSink, WatchTarget } from "../../client/watch.ts";
import { ConnectionClosedError, type CyberDBError, JournalCorruptError } from "../../errors.ts";
import { decode, encodeArray, Encoded, encodeRequest, WRAPPED_DEPTH } from "../../protocol/codec.ts";
import type { ServerInfo } from "../../protocol/messages.ts";
import { runtime } from "../../runtime/mod.ts";
import { ActiveExpiry } from "../../store/expiry.ts";
import type { Persistence } from "../../store/persistence.ts";
import { applyRequest, type RequestTarget } from "../../store/request.ts";
import type { Store } from "../../store/store.ts";
import { VERSION } from "../../version.ts";
import { MemoryWatches } from "./watch.ts";

/**
 * The same bytes as a plain `Uint8Array`: the encoder may give a Node `Buffer`, and the
 * decoder gives binary values back as the class of its input (a frame from a socket is plain).
 */
function plain(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A request applied, waiting for its turn to be answered. */
interface Settled {
  resolve(value: unknown): void;
  reject(error: CyberDBError): void;
  value?: unknown;
  error?: CyberDBError;
}

/** An in-process "connection": an ordered channel of requests to the engine's store. */
export class MemoryConnection implements EngineConnection {
  #engine: MemoryEngine;
  #closed = false;

  /** @param engine the engine whose store requests go to */
  constructor(engine: MemoryEngine) {
    this.#engine = engine;
  }

  /** Whether it can no longer be used (released, or the client closed). */
  get closed(): boolean {
    return this.#closed || this.#engine.closed;
  }

  /** Marks it closed; the engine calls this on release. */
  close(): void {
    this.#closed = true;
  }

  /**
   * Applies one op now and resolves to a copy of its result, in order.
   *
   * @throws {CyberDBError} the store's error, or `CONNECTION_CLOSED` once closed
   */
  request(op: string, table: string, args: readonly unknown[]): Promise<unknown> {
    if (this.closed) {
      return Promise.reject(
        new ConnectionClosedError(
          this.#engine.closed
            ? "the client is closed; call open() again"
            : "this connection was given back; get a new proxy",
        ),
      );
    }
    return this.#engine.apply(op, table, args);
  }

  /**
   * Starts a change feed over the store in this process (see `EngineConnection.watch`).
   *
   * @throws {CyberDBError} `NO_SUCH_TABLE`, `WRONG_TYPE`, or `CONNECTION_CLOSED` once closed
   */
  watch(target: WatchTarget, sink: WatchSink): Promise<() => void> {
    if (this.closed) {
      return Promise.reject(new ConnectionClosedError("this connection was given back; get a new proxy"));
    }
    return this.#engine.watches.watch(target, sink);
  }
}

/** The tables of one `open()`, in this process. */
export class MemoryEngine implements Engine {
  /** This engine's name. */
  readonly name = "memory";
  #target: RequestTarget;
  #persistence: Persistence;
  #leased = new Set<MemoryConnection>();
  #nextId = 1;
  #queue: Settled[] = [];
  #wrote = false;
  #flushing: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #startedAt = performance.now();
  #stats = { requests: 0, connections: 0 };
  /** The change feeds of this engine's proxies. */
  readonly watches: MemoryWatches;
  /** Reclaims expired entries no request touches (an unref'd timer: it never keeps the process alive). */
  #expiry: ActiveExpiry;

  /**
   * @param store the tables (already loaded)
   * @param persistence its snapshots and journal (already opened)
   */
  constructor(store: Store, persistence: Persistence) {
    this.#persistence = persistence;
    this.watches = new MemoryWatches(store, () => persistence.journal?.commit());
    this.#target = {
      store,
      engine: "memory",
      journal: () => persistence.journal,
      info: () => this.info(),
    };
    this.#expiry = new ActiveExpiry(store);
    this.#expiry.start();
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Proxies holding a connection now. */
  get connections(): number {
    return this.#leased.size;
  }

  /**
   * A new in-process connection; costs nothing.
   *
   * @throws {ConnectionClosedError} when the client is closed
   */
  lease(): Promise<MemoryConnection> {
    if (this.closed) return Promise.reject(new ConnectionClosedError("the client is closed; call open() again"));
    const connection = new MemoryConnection(this);
    this.#leased.add(connection);
    this.#stats.connections++;
    return Promise.resolve(connection);
  }

  /** Takes a connection back and closes it. */
  release(connection: EngineConnection): void {
    (connection as MemoryConnection).close();
    this.#leased.delete(connection as MemoryConnection);
  }

  /**
   * Applies one request through the server's request path and queues its
   * answer; answers of one turn are given together once the journal has them.
   */
  apply(op: string, table: string, args: readonly unknown[]): Promise<unknown> {
    let frame: Uint8Array;
    try {
      frame = plain(encodeRequest(this.#nextId++, op, table, args));
    } catch (error) {
      return Promise.reject(error);
    }
    this.#stats.requests++;
    const applied = applyRequest(this.#target, frame);
    const settled = {} as Settled;
    if (applied.error) {
      settled.error = applied.error;
    } else {
      if (applied.wrote) this.#wrote = true;
      const { result } = applied;
      try {
        // The reply's value as a session would send it, read back: a copy, never the stored value. A stored
        // value (Encoded: a view of the table's memory) is decoded from its bytes straight away, as the
        // client would decode them from the reply frame they are spliced into.
        if (result instanceof Encoded) settled.value = decode(plain(result.bytes), WRAPPED_DEPTH);
        else if (result !== undefined) {
          settled.value = (decode(plain(encodeArray([result])), WRAPPED_DEPTH) as unknown[])[0];
        }
      } catch (error) {
        settled.error = error as CyberDBError;
      }
    }
    const promise = new Promise<unknown>((resolve, reject) => {
      settled.resolve = resolve;
      settled.reject = reject;
    });
    if (this.#queue.push(settled) === 1) this.#flushing = this.#flushing.then(() => this.#flush());
    return promise;
  }

  async #flush(): Promise<void> {
    const ready = this.#queue;
    this.#queue = [];
    const wrote = this.#wrote;
    this.#wrote = false;
    let failed: CyberDBError | undefined;
    try {
      // Every change any of these could have seen, not only their own: nobody reads what a crash could take back.
      const durable = this.#persistence.journal?.commit();
      if (durable) await durable;
      if (wrote) this.#persistence.maybeCompact();
    } catch (error) {
      failed = new JournalCorruptError(
        `the journal could not be written (${(error as Error).message}); these changes may be lost, and ` +
          `changes are refused until the store is opened again`,
      );
    }
    for (const settled of ready) {
      if (failed) settled.reject(failed);
      else if (settled.error) settled.reject(settled.error);
      else settled.resolve(settled.value);
    }
  }

  /** What `proxy.info()` reports here: the store's tables, this process's memory, the snapshot and journal. */
  info(): ServerInfo {
    return {
      version: VERSION,
      uptime: (performance.now() - this.#startedAt) / 1000,
      connections: { current: this.#leased.size, total: this.#stats.connections, refused: 0 },
      requests: this.#stats.requests,
      tables: this.#target.store.sizes(),
      memory: { rss: runtime.memoryUsage() },
      lastSnapshot: this.#persistence.lastSnapshot ?? null,
      journal: this.#persistence.journalInfo(),
    };
  }

  /**
   * Answers what is applied, then saves: a final snapshot to `db` (with a
   * journal, a compaction), and closes the journal (fsynced). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#expiry.stop();
      for (const connection of this.#leased) connection.close();
      this.#leased.clear();
      this.watches.close();
      await this.#flushing;
      try {
        await this.#persistence.checkpoint();
      } finally {
        await this.#persistence.close();
      }
    })();
    return this.#closing;
  }
}
