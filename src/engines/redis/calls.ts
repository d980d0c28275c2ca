/**
 * What the Redis ops need from the engine, and the conversions between our
 * values and what goes over ioredis: values as our MessagePack bytes (in a
 * Node `Buffer`, the only binary type ioredis sends as is), replies decoded
 * into fresh values, and a script's error reply turned into the cyberdb
 * error, with the message, that the other engines give.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  CyberDBError,
  IndexOutOfRangeError,
  KeyNotFoundError,
  NoSuchTableError,
  TableExistsError,
  WrongTypeError,
} from "../../errors.ts";
import { decode, encode, WRAPPED_DEPTH } from "../../protocol/codec.ts";
import type { TableKeys } from "./keys.ts";
import type { ScriptName } from "./scripts.ts";

/** One argument of a script: a string (names, numbers, fields) or bytes. */
export type Arg = string | Buffer;

/** The engine as the ops see it. */
export interface RedisCalls {
  /** The key prefix (`cyberdb`). */
  readonly prefix: string;
  /** Whether the tables are in a Cluster. */
  readonly cluster: boolean;
  /** The keys of a table (remembered per name). */
  keys(table: string): TableKeys;
  /**
   * Runs a script on the node of its first key.
   *
   * @throws {ScriptError} for an error reply carrying a cyberdb code
   * @throws {ConnectionClosedError} when the node cannot be reached
   */
  run(script: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<unknown>;
  /**
   * Runs a plain command; replies as strings, or as bytes with `buffers`.
   *
   * @throws {ScriptError} for `WRONGTYPE` (code `WRONG_TYPE`, no detail)
   * @throws {ConnectionClosedError} when the node cannot be reached
   */
  command(name: string, args: readonly Arg[], buffers?: boolean): Promise<unknown>;
}

/** A script's error reply: a cyberdb code and the script's details. */
export class ScriptError extends Error {
  /**
   * @param code the code the script reported
   * @param detail what followed it
   */
  constructor(readonly code: string, readonly detail: string) {
    super(`${code} ${detail}`);
  }
}

/** A value as the bytes Redis stores. */
export function toBytes(value: unknown): Buffer {
  const bytes = encode(value);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Stored bytes back as a fresh value. */
export function fromBytes(reply: unknown): unknown {
  const buffer = reply as Buffer;
  return decode(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength), WRAPPED_DEPTH);
}

/** A value as it would read back once stored: a copy, never the caller's object. */
export function copyOf(value: unknown): unknown {
  return value === undefined ? undefined : fromBytes(toBytes(value));
}

/** A reply's bytes as a string (hash fields, versions). */
export function text(reply: unknown): string {
  return (reply as Buffer).toString("utf8");
}

function kindOf(op: string, args: readonly unknown[]): string {
  if (op.startsWith("d.")) return "CyberDict";
  if (op.startsWith("l.")) return "CyberList";
  return String(args[0]);
}

function otherKind(kind: string): string {
  return kind === "CyberDict" ? "CyberList" : "CyberDict";
}

/**
 * The cyberdb error for a script's error reply, with the other engines' message.
 *
 * @param op the op that failed
 * @param table its table
 * @param args its arguments
 * @param error what the script reported
 */
export function translate(op: string, table: string, args: readonly unknown[], error: ScriptError): CyberDBError {
  const name = JSON.stringify(table);
  switch (error.code) {
    case "NO_SUCH_TABLE":
      if (op === "drop") return new NoSuchTableError(`no table named ${name} to delete`);
      return new NoSuchTableError(`no table named ${name}; create it first (createCyber${kindOf(op, args).slice(5)})`);
    case "WRONG_TYPE":
      // Redis's own WRONGTYPE carries no kind: the table is then the other kind.
      return new WrongTypeError(
        `table ${name} is a ${error.detail || otherKind(kindOf(op, args))}, not a ${kindOf(op, args)}`,
      );
    case "TABLE_EXISTS":
      return new TableExistsError(`a table named ${name} exists; get it instead, or delete it first`);
    case "INDEX_OUT_OF_RANGE":
      return new IndexOutOfRangeError(
        `${op.slice(2)}: index ${args[0]} is out of range for a list of length ${error.detail}`,
      );
    case "KEY_NOT_FOUND":
      if (op === "d.pop") {
        return new KeyNotFoundError(
          `pop: no key ${JSON.stringify(args[0])}; pass a default to get it instead of an error`,
        );
      }
      return new KeyNotFoundError("popItem: the dict is empty");
    default:
      return new CyberDBError("BAD_REQUEST", `redis: ${error.message}`);
  }
}
