/**
 * Change feeds on Redis: every script that changes a table publishes the
 * change to the table's channel `<base key>:w` in the same atomic run
 * (`scripts.ts`), so a subscriber gets a table's changes in the order they
 * were applied on its node. An atomic batch publishes once all of it is
 * applied: a table's watchers get its changes as one event (`B`, or `b`
 * when the batch spans tables), a whole-store watcher gets the whole batch
 * as one event (`B`, or `M` and not the `b` parts).
 * A watch is one subscriber connection of its own:
 * `SUBSCRIBE` to the table's channel, or `PSUBSCRIBE <prefix>:{*}:w` for the
 * whole store. In a Cluster a table's watch subscribes on the master that
 * owns the table's slot, and a whole-store watch on every master, each
 * keeping only the channels of its own slots: `PUBLISH` also reaches the
 * other nodes over the cluster bus, later, so a message heard elsewhere
 * could arrive after the watch resolved although it was published before.
 * Changes to tables on different nodes arrive in no defined order relative
 * to each other.
 *
 * Redis pub/sub delivers at most once: what is published while a
 * subscriber is disconnected is lost. So the subscriber never reconnects: a
 * dropped connection (Redis's `client-output-buffer-limit pubsub` dropping a
 * slow subscriber included) ends the watch with `CONNECTION_CLOSED`, and the
 * application reads the table again, then watches again.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import type { Redis } from "ioredis";
import type { WatchSink, WatchTarget } from "../../client/watch.ts";
import type { Key } from "../../store/values.ts";
import { BadRequestError, ConnectionClosedError, NoSuchTableError } from "../../errors.ts";
import { fromBytes } from "./calls.ts";
import { fieldKey, keySlot, nameOfKey, tableKeys } from "./keys.ts";

/** What a watch needs from the engine. */
export interface RedisWatchHost {
  /** The key prefix. */
  readonly prefix: string;
  /** New connections for subscribing (not connected yet), each with the slots it takes messages for. */
  subscribers(slot?: number): { redis: Redis; owns: (slot: number) => boolean }[];
  /** Applies an op (to check the table). */
  execute(op: string, table: string, args: readonly unknown[]): Promise<unknown>;
}

const GAP = "Redis pub/sub delivers at most once, so changes made from now on until a new watch are not delivered: " +
  "read the table again, then watch again";

/** The fields of a batch message: each a 4-byte big-endian length, then the bytes. */
function fields(message: Buffer, from: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = from; at < message.length;) {
    const length = message.readUInt32BE(at);
    out.push(message.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return out;
}

function batchOf(changes: Record<string, unknown>[]): Record<string, unknown> {
  return changes.length === 1 ? changes[0] : { op: "batch", changes };
}

/**
 * One message of a batch over several tables (`M`), as the whole-store watcher's event.
 *
 * @param prefix the key prefix
 * @param message the message
 * @returns the batch, each change with its table's name
 */
export function parseStoreBatch(prefix: string, message: Buffer): Record<string, unknown> {
  const parts = fields(message, 1), changes: Record<string, unknown>[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    changes.push({ table: nameOfKey(prefix, parts[i].toString("utf8")) ?? "", ...parseChange(parts[i + 1]) });
  }
  return batchOf(changes);
}

/**
 * One published change back as the change the other engines deliver.
 *
 * @param message the message, as `scripts.ts` publishes it
 * @returns the change, without the table's name
 * @throws {BadRequestError} for a message no script sends
 */
export function parseChange(message: Buffer): Record<string, unknown> {
  const field = (at: number) => {
    const length = message.readUInt32BE(at);
    return { bytes: message.subarray(at + 4, at + 4 + length), next: at + 4 + length };
  };
  switch (String.fromCharCode(message[0])) {
    case "s": {
      const { bytes, next } = field(1);
      return { op: "set", key: fieldKey(bytes.toString("utf8")), value: fromBytes(message.subarray(next)) };
    }
    case "d":
      return { op: "delete", key: fieldKey(message.toString("utf8", 1)) };
    case "c":
      return { op: "clear" };
    case "p": {
      const values = [];
      for (let at = 1; at < message.length;) {
        const { bytes, next } = field(at);
        values.push(fromBytes(bytes));
        at = next;
      }
      return { op: "push", values };
    }
    case "o":
      return { op: "pop" };
    case "S":
      return { op: "set", index: message.readUInt32BE(1), value: fromBytes(message.subarray(5)) };
    case "r":
      return { op: "replace" };
    case "C":
      return { op: "createTable", type: message.toString("utf8", 1) };
    case "D":
      return { op: "deleteTable" };
    case "B":
    case "b":
      return batchOf(fields(message, 1).map(parseChange));
    default:
      throw new BadRequestError(`redis: a change message of an unknown kind (${message[0]}) on a cyberdb channel`);
  }
}

/**
 * Starts a watch: resolves once Redis confirmed the subscription, after which
 * every change published is delivered.
 *
 * @param host the engine
 * @param target the table (or `""`), kind and keys
 * @param sink where the changes go
 * @returns stops the watch (closes its connection)
 * @throws {CyberDBError} `NO_SUCH_TABLE` / `WRONG_TYPE` for the table, `CONNECTION_CLOSED`
 */
export async function watchRedis(host: RedisWatchHost, target: WatchTarget, sink: WatchSink): Promise<() => void> {
  if (target.table !== "") await host.execute("open", target.table, [target.kind]);
  const keys = target.keys && new Set<string | number>(target.keys);
  const channel = target.table === "" ? undefined : tableKeys(host.prefix, target.table).channel;
  const subs = host.subscribers(channel === undefined ? undefined : keySlot(channel));
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    for (const { redis } of subs) redis.disconnect();
  };
  const deliver = (table: string, message: Buffer) => {
    if (stopped) return;
    const whole = target.table === "";
    const letter = message[0];
    // A batch over several tables: its table watchers take their part (b), whole-store watchers all of it (M).
    if (letter === (whole ? 0x62 /* b */ : 0x4d /* M */)) return;
    let change: Record<string, unknown>;
    try {
      change = letter === 0x4d ? parseStoreBatch(host.prefix, message) : parseChange(message);
    } catch (error) {
      stop();
      return sink.end(error as Error);
    }
    if (!whole && change.op === "deleteTable") {
      stop();
      return sink.end(new NoSuchTableError(`table ${JSON.stringify(table)} was deleted; watch ended`));
    }
    if (keys) {
      if (change.op === "batch") {
        const kept = (change.changes as Record<string, unknown>[]).filter((c) =>
          !("key" in c) || keys.has(c.key as Key)
        );
        if (kept.length === 0) return;
        change = batchOf(kept);
      } else if ("key" in change && !keys.has(change.key as Key)) return;
    }
    if (whole && letter !== 0x4d) {
      change = change.op === "batch"
        ? { op: "batch", changes: (change.changes as Record<string, unknown>[]).map((c) => ({ table, ...c })) }
        : { table, ...change };
    }
    sink.push(change, message.length);
  };
  for (const { redis: sub, owns } of subs) {
    sub.on("messageBuffer", (name: Buffer, message: Buffer) => {
      if (owns(keySlot(name.toString("utf8")))) deliver(target.table, message);
    });
    sub.on("pmessageBuffer", (_pattern: Buffer, name: Buffer, message: Buffer) => {
      const key = name.toString("utf8");
      if (owns(keySlot(key))) deliver(nameOfKey(host.prefix, key) ?? "", message);
    });
    sub.on("error", () => {}); // the close that follows ends the watch
    sub.on("close", () => {
      if (stopped) return;
      stop();
      sink.end(new ConnectionClosedError(`redis: the watch's connection closed; ${GAP}`));
    });
  }
  try {
    await Promise.all(subs.map(async ({ redis: sub }) => {
      await sub.connect();
      if (channel === undefined) await sub.psubscribe(`${host.prefix}:{*}:w`);
      else await sub.subscribe(channel);
    }));
  } catch (error) {
    stop();
    throw new ConnectionClosedError(`redis: cannot subscribe to the table's changes: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return stop;
}
