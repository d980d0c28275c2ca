/**
 * Change feeds on Redis: every script that changes a table publishes the
 * change to the table's channel `<prefix>:{name}:w` in the same atomic run
 * (`scripts.ts`), so a subscriber gets a table's changes in the order they
 * were applied on its node. A watch is one subscriber connection of its own:
 * `SUBSCRIBE` to the table's channel, or `PSUBSCRIBE <prefix>:{*}:w` for the
 * whole store (in a Cluster, `PUBLISH` reaches every node, so one node's
 * subscription hears every table; changes to tables on different nodes
 * arrive in no defined order relative to each other).
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
import { BadRequestError, ConnectionClosedError, NoSuchTableError } from "../../errors.ts";
import { fromBytes } from "./calls.ts";
import { fieldKey } from "./keys.ts";

/** What a watch needs from the engine. */
export interface RedisWatchHost {
  /** The key prefix. */
  readonly prefix: string;
  /** A new connection for subscribing (not connected yet), to the node (any node of a Cluster). */
  subscriber(): Redis;
  /** Applies an op (to check the table). */
  execute(op: string, table: string, args: readonly unknown[]): Promise<unknown>;
}

const GAP = "Redis pub/sub delivers at most once, so changes made from now on until a new watch are not delivered: " +
  "read the table again, then watch again";

function unescapeName(escaped: string): string {
  return escaped.replace(/%(25|7B|7D)/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
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
  const base = `${host.prefix}:{`;
  const sub = host.subscriber();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    sub.disconnect();
  };
  const deliver = (table: string, message: Buffer) => {
    if (stopped) return;
    let change: Record<string, unknown>;
    try {
      change = parseChange(message);
    } catch (error) {
      stop();
      return sink.end(error as Error);
    }
    if (target.table !== "" && change.op === "deleteTable") {
      stop();
      return sink.end(new NoSuchTableError(`table ${JSON.stringify(table)} was deleted; watch ended`));
    }
    if (keys && "key" in change && !keys.has(change.key as string | number)) return;
    sink.push(target.table === "" ? { table, ...change } : change, message.length);
  };
  sub.on("messageBuffer", (_channel: Buffer, message: Buffer) => deliver(target.table, message));
  sub.on("pmessageBuffer", (_pattern: Buffer, channel: Buffer, message: Buffer) => {
    const name = channel.toString("utf8");
    deliver(unescapeName(name.slice(base.length, -3)), message);
  });
  sub.on("error", () => {}); // the close that follows ends the watch
  sub.on("close", () => {
    if (stopped) return;
    stopped = true;
    sink.end(new ConnectionClosedError(`redis: the watch's connection closed; ${GAP}`));
  });
  try {
    await sub.connect();
    const channel = target.table === "" ? undefined : `${base}${target.table.replace(/[%{}]/g, escape)}}:w`;
    if (channel === undefined) await sub.psubscribe(`${base}*}:w`);
    else await sub.subscribe(channel);
  } catch (error) {
    stop();
    throw new ConnectionClosedError(`redis: cannot subscribe to the table's changes: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return stop;
}

function escape(c: string): string {
  return c === "%" ? "%25" : c === "{" ? "%7B" : "%7D";
}
