/**
 * The Redis engine: one ioredis client (a `Redis`, or a `Cluster` that
 * routes each table's keys to the node owning their slot), shared by every
 * proxy. This module imports ioredis; only `connectRedis()` loads it.
 *
 * Order: requests on one proxy are applied in the order they were made.
 * One socket per node applies what was sent to it in order; this file
 * holds a request back (until what was sent before it settled) only when
 * it could otherwise overtake: after an op that takes more than one round
 * trip (create, drop, tables, remove, sort, increment by a bigint), and,
 * in a Cluster, when it goes to another table than the requests in flight.
 *
 * Writes: the commands of one event-loop turn go out together (the socket
 * is corked at the turn's first command and uncorked in a microtask, or
 * after 16 commands so Redis starts on them meanwhile), so 100 requests in
 * flight cost a few syscalls, not 100.
 *
 * Failures: no offline queue and no retries per request, so a request on
 * a node that went away rejects at once with `CONNECTION_CLOSED` (it may or
 * may not have been applied, as with our own server); the client keeps
 * reconnecting in the background, and requests work again once the node is
 * back.
 *
 * @module
 */
import { Cluster, Redis } from "ioredis";
import type { Engine, EngineConnection } from "../../client/engine.ts";
import type { WatchSink, WatchTarget } from "../../client/watch.ts";
import {
  AuthenticationError,
  BadRequestError,
  ConnectionClosedError,
  type CyberDBError,
  TimeoutError,
  UnsupportedError,
} from "../../errors.ts";
import { checkArguments } from "../../protocol/codec.ts";
import { checkRequest } from "../../store/store.ts";
import { type Arg, type RedisCalls, ScriptError, translate } from "./calls.ts";
import type { RedisOptions } from "./options.ts";
import { dictOps, type Handler } from "./dict_ops.ts";
import { DEFAULT_PREFIX, type TableKeys, tableKeys } from "./keys.ts";
import { listOps } from "./list_ops.ts";
import { type ScriptName, SCRIPTS } from "./scripts.ts";
import { tableOps } from "./table_ops.ts";
import { type RedisWatchHost, watchRedis } from "./watch.ts";

const CODES = new Set(["NO_SUCH_TABLE", "WRONG_TYPE", "TABLE_EXISTS", "INDEX_OUT_OF_RANGE", "KEY_NOT_FOUND"]);
const UNAVAILABLE = /^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|READONLY)\b/;
/** Ops whose result is computed over several round trips: nothing sent after them may overtake them. */
const SEVERAL_STEPS = new Set(["create", "drop", "tables", "atomic", "l.remove", "l.sort"]);

const OPS: Record<string, Handler> = { ...dictOps, ...listOps, ...tableOps };

type Client = Redis | Cluster;
type Call = (...args: unknown[]) => Promise<unknown>;
/** Most commands held in a corked socket before they are written. */
const WRITE_BATCH = 16;

interface Corkable {
  cork(): void;
  uncork(): void;
}

/** Sockets corked for one turn, and how many commands they hold. */
interface Held {
  streams: Corkable[];
  count: number;
  done: boolean;
}

function uncork(held: Held): void {
  if (held.done) return;
  held.done = true;
  for (const stream of held.streams) stream.uncork();
}

/** How many tables' keys are remembered before the memo starts over. */
const KEYS_MEMO = 10_000;

function failure(error: unknown): CyberDBError {
  const message = error instanceof Error ? error.message : String(error);
  if (/timed out/i.test(message)) {
    return new TimeoutError(`redis: ${message}; the request may or may not have been applied`);
  }
  if (/WRONGPASS|NOAUTH|NOPERM/.test(message)) {
    return new AuthenticationError(`redis: ${message}; check the password and user name given to connectRedis`);
  }
  return new ConnectionClosedError(
    `redis: ${message}; the request may or may not have been applied, and the client reconnects meanwhile`,
    { cause: error },
  );
}

function isReply(error: unknown): error is Error {
  return error instanceof Error && error.name === "ReplyError";
}

/** Redis or a Cluster, as an {@link Engine}. */
export class RedisEngine implements Engine, RedisCalls, RedisWatchHost {
  /** This engine's name. */
  readonly name = "redis";
  /** The key prefix. */
  readonly prefix: string;
  /** Whether the tables are in a Cluster. */
  readonly cluster: boolean;
  #client: Client;
  #closed = false;
  #keys = new Map<string, TableKeys>();
  #corked: Held | undefined;

  private constructor(client: Client, prefix: string) {
    this.#client = client;
    this.prefix = prefix;
    this.cluster = client instanceof Cluster;
    for (const [name, spec] of Object.entries(SCRIPTS)) {
      client.defineCommand(name, spec.keys === null ? { lua: spec.lua } : { numberOfKeys: spec.keys, lua: spec.lua });
    }
  }

  /**
   * Connects, and resolves once Redis answered.
   *
   * @throws {UnsupportedError} for `encrypt`
   * @throws {CyberDBError} `CONNECTION_CLOSED` when Redis cannot be reached, `AUTH_FAILED` for a wrong password
   */
  static async open(options: RedisOptions): Promise<RedisEngine> {
    if (options.encrypt) {
      throw new UnsupportedError(
        "the redis engine has no encrypt option: cyberdb's encryption is its own protocol's; " +
          "connect to Redis over TLS with a rediss:// URL instead",
      );
    }
    if (options.url !== undefined && options.cluster !== undefined) {
      throw new BadRequestError("connectRedis: give either url or cluster, not both");
    }
    let connected = false;
    // While connecting, fail at once; once connected, reconnect with a backoff for as long as it takes.
    const retry = (times: number) => (connected ? Math.min(50 * times, 1000) : null);
    const common = {
      lazyConnect: true,
      enableOfflineQueue: false,
      password: options.password,
      username: options.username,
      connectTimeout: options.connectTimeout ?? 10_000,
      commandTimeout: options.commandTimeout,
      maxRetriesPerRequest: 0,
    };
    let client: Client;
    if (options.cluster) {
      const nodes = options.cluster.map((address) => {
        const at = address.lastIndexOf(":");
        return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
      });
      const { lazyConnect, enableOfflineQueue, ...redisOptions } = common;
      client = new Cluster(nodes, {
        lazyConnect,
        enableOfflineQueue,
        redisOptions,
        clusterRetryStrategy: retry,
        slotsRefreshTimeout: 2000,
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        maxRedirections: 4,
      });
    } else {
      client = new Redis(options.url ?? "redis://127.0.0.1:6379", { ...common, retryStrategy: retry });
    }
    client.on("error", () => {}); // every failure reaches the request it concerns
    try {
      await client.connect();
      await client.ping();
    } catch (error) {
      client.disconnect();
      const where = options.cluster
        ? `the cluster nodes ${options.cluster.join(", ")}`
        : options.url ?? "127.0.0.1:6379";
      const cause = failure(error);
      if (cause.code !== "CONNECTION_CLOSED") throw cause;
      throw new ConnectionClosedError(
        `redis: cannot reach ${where} (${(error as Error).message}); is Redis running there?`,
        { cause: error },
      );
    }
    connected = true;
    return new RedisEngine(client, options.prefix ?? DEFAULT_PREFIX);
  }

  /** Sockets open now: one per node this client talks to. */
  get connections(): number {
    if (this.#closed) return 0;
    if (this.#client instanceof Cluster) return this.#client.nodes("all").length;
    return this.#client.status === "ready" ? 1 : 0;
  }

  /**
   * Lends an ordered channel over the shared client.
   *
   * @throws {ConnectionClosedError} when the client is closed
   */
  lease(): Promise<EngineConnection> {
    if (this.#closed) {
      return Promise.reject(new ConnectionClosedError("the client is closed; call connectRedis() again"));
    }
    return Promise.resolve(new RedisConnection(this));
  }

  /** Nothing to give back: every channel shares the client. */
  release(_connection: EngineConnection): void {}

  /**
   * New connections for a watch (not connected yet), never reconnecting: to the node, or in a Cluster to the
   * master owning `slot`, or to every master for the whole store. Each comes with the slots whose messages it
   * keeps: in a Cluster `PUBLISH` also reaches the other nodes over the cluster bus, late, so a subscriber takes a
   * channel's messages only from the node that ran the script (in commit order, none from before it subscribed).
   */
  subscribers(slot?: number): { redis: Redis; owns: (slot: number) => boolean }[] {
    const fresh = (node: Redis) =>
      node.duplicate({ lazyConnect: true, enableOfflineQueue: true, retryStrategy: () => null });
    const client = this.#client;
    if (!(client instanceof Cluster)) return [{ redis: fresh(client), owns: () => true }];
    const slots = client.slots as string[][];
    const keyOf = (node: Redis) => `${node.options.host}:${node.options.port}`;
    const masters = client.nodes("master");
    const chosen = slot === undefined ? masters : masters.filter((node) => keyOf(node) === slots[slot]?.[0]);
    return (chosen.length > 0 ? chosen : masters.slice(0, 1)).map((node) => {
      const key = keyOf(node);
      return { redis: fresh(node), owns: (s: number) => slots[s]?.[0] === key };
    });
  }

  /** Whether {@link RedisEngine.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Disconnects; requests in flight reject with `CONNECTION_CLOSED`. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#client.disconnect();
    }
    return Promise.resolve();
  }

  /** Applies one op. */
  async execute(op: string, table: string, args: readonly unknown[]): Promise<unknown> {
    if (this.#closed) throw new ConnectionClosedError("the client is closed; call connectRedis() again");
    // info is no op of the store's table (the session answers it); table_ops.ts refuses it here.
    if (op !== "info") checkRequest(op, table, args);
    try {
      return await OPS[op](this, table, args, op);
    } catch (error) {
      throw error instanceof ScriptError ? translate(op, table, args, error) : error;
    }
  }

  /** Whether later requests must wait for this one to settle. */
  static severalSteps(op: string, args: readonly unknown[]): boolean {
    return SEVERAL_STEPS.has(op) || (op === "d.increment" && typeof args[1] === "bigint");
  }

  /** The keys of a table. */
  keys(table: string): TableKeys {
    let keys = this.#keys.get(table);
    if (keys === undefined) {
      if (this.#keys.size >= KEYS_MEMO) this.#keys.clear();
      keys = tableKeys(this.prefix, table);
      this.#keys.set(table, keys);
    }
    return keys;
  }

  async run(script: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    const call = (this.#client as unknown as Record<string, Call>)[`${script}Buffer`];
    this.#cork();
    try {
      return await (SCRIPTS[script].keys === null
        ? call.call(this.#client, keys.length, ...keys, ...args)
        : call.call(this.#client, keys, args));
    } catch (error) {
      throw this.#error(error);
    }
  }

  async command(name: string, args: readonly Arg[], buffers = false): Promise<unknown> {
    this.#cork();
    try {
      return await (buffers ? this.#client.callBuffer(name, ...args) : this.#client.call(name, ...args));
    } catch (error) {
      throw this.#error(error);
    }
  }

  /**
   * Holds this turn's writes to every node in its socket until the turn's microtasks ran, or until
   * {@link WRITE_BATCH} commands are held: one write for many, yet Redis starts on the first ones while later ones
   * are still being made.
   */
  #cork(): void {
    let held = this.#corked;
    if (held !== undefined && held.count < WRITE_BATCH) {
      held.count++;
      return;
    }
    if (held !== undefined) uncork(held);
    const nodes = this.#client instanceof Cluster ? this.#client.nodes("master") : [this.#client];
    const streams: Corkable[] = [];
    for (const node of nodes) {
      const stream = (node as unknown as { stream?: Partial<Corkable> }).stream;
      if (stream?.cork === undefined || stream.uncork === undefined) continue;
      stream.cork();
      streams.push(stream as Corkable);
    }
    held = { streams, count: 1, done: false };
    this.#corked = held;
    queueMicrotask(() => {
      if (this.#corked === held) this.#corked = undefined;
      uncork(held);
    });
  }

  #error(error: unknown): Error {
    if (this.#closed) return new ConnectionClosedError("the client is closed; call connectRedis() again");
    if (isReply(error)) {
      // Redis puts "ERR " before an error reply of one word.
      if (error.message.startsWith("WRONGTYPE")) return new ScriptError("WRONG_TYPE", "");
      const message = error.message.replace(/^ERR (?=[A-Z_]+$)/, "");
      const space = message.indexOf(" ");
      const code = space < 0 ? message : message.slice(0, space);
      if (CODES.has(code)) return new ScriptError(code, space < 0 ? "" : message.slice(space + 1));
      if (!UNAVAILABLE.test(error.message)) return new BadRequestError(`redis: ${error.message}`);
    }
    return failure(error);
  }
}

/** One proxy's ordered channel of requests over the shared client. */
class RedisConnection implements EngineConnection {
  #engine: RedisEngine;
  /** Settles when everything sent so far has settled. */
  #tail: Promise<unknown> = Promise.resolve();
  #hold = false;
  /** Requests held back, not sent yet: every later one waits behind them. */
  #waiting = 0;
  #lastTable: string | undefined;

  constructor(engine: RedisEngine) {
    this.#engine = engine;
  }

  get closed(): boolean {
    return this.#engine.closed;
  }

  watch(target: WatchTarget, sink: WatchSink): Promise<() => void> {
    if (this.#engine.closed) {
      return Promise.reject(new ConnectionClosedError("the client is closed; call connectRedis() again"));
    }
    return watchRedis(this.#engine, target, sink);
  }

  request(op: string, table: string, args: readonly unknown[]): Promise<unknown> {
    try {
      checkArguments(op, args); // the value rules, as every engine applies them, before anything is sent
    } catch (error) {
      return Promise.reject(error);
    }
    const wait = this.#hold || this.#waiting > 0 ||
      (this.#engine.cluster && this.#lastTable !== undefined && table !== this.#lastTable);
    const run = () => this.#engine.execute(op, table, args);
    let result: Promise<unknown>;
    if (wait) {
      this.#waiting++;
      result = this.#tail.then(() => {
        this.#waiting--;
        return run();
      });
    } else {
      result = run();
    }
    this.#tail = Promise.all([this.#tail, result.then(noop, noop)]);
    this.#hold = RedisEngine.severalSteps(op, args);
    this.#lastTable = table;
    return result;
  }
}

function noop(): void {}
