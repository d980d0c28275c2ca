/**
 * Node's built-in modules and `process` for `node.ts`, fetched with
 * `process.getBuiltinModule` on first use: importing the runtime files (as
 * Deno does, to pick one) loads nothing from Node.
 *
 * @module
 */
import type * as Fs from "node:fs";
import type * as Net from "node:net";
import type * as Tls from "node:tls";
import type * as Url from "node:url";

/** The parts of Node's `process` used here. */
export interface NodeProcess {
  getBuiltinModule(id: "node:fs"): typeof Fs;
  getBuiltinModule(id: "node:net"): typeof Net;
  getBuiltinModule(id: "node:tls"): typeof Tls;
  getBuiltinModule(id: "node:url"): typeof Url;
  readonly argv: string[];
  readonly env: Record<string, string | undefined>;
  exit(code?: number): never;
  memoryUsage(): { rss: number };
  on(event: string, listener: (signal: string) => void): unknown;
  off(event: string, listener: (signal: string) => void): unknown;
  readonly stdin: AsyncIterable<Uint8Array> & { readonly isTTY?: boolean };
  readonly stdout: { write(text: string, done: (error?: Error | null) => void): boolean };
}

/** An error as Node reports it, with its `code` (`ECONNRESET`, `ENOENT`, …). */
export type NodeError = Error & { code?: string };

/** Node's `process`. */
export function nodeProcess(): NodeProcess {
  return (globalThis as unknown as { process: NodeProcess }).process;
}

let modules: { fs: typeof Fs; net: typeof Net; url: typeof Url } | undefined;
let tls: typeof Tls | undefined;

/** Node's `fs`, `net` and `url` modules, loaded on the first call. */
export function node(): { fs: typeof Fs; net: typeof Net; url: typeof Url } {
  const process = nodeProcess();
  return modules ??= {
    fs: process.getBuiltinModule("node:fs"),
    net: process.getBuiltinModule("node:net"),
    url: process.getBuiltinModule("node:url"),
  };
}

/** Node's `tls` module, loaded on the first call (only TLS listeners and connections need it). */
export function nodeTls(): typeof Tls {
  return tls ??= nodeProcess().getBuiltinModule("node:tls");
}

/** A plain `Uint8Array` over the same memory: the codec must never see a `Buffer`. */
export function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
