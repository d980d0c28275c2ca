/**
 * The runtime: the only door to sockets, files, signals and the
 * environment. `deno.ts` implements it over `Deno.*`, `node.ts` over
 * `node:net` and `node:fs`; everything else in cyberdb is plain TypeScript
 * over Web APIs and calls {@link runtime}.
 *
 * @module
 */
import { denoRuntime } from "./deno.ts";
import type { Runtime } from "./interface.ts";
import { nodeRuntime } from "./node.ts";

export type {
  Addr,
  AesGcm,
  AppendFile,
  Conn,
  LineEditor,
  LineEditorOptions,
  Listener,
  Runtime,
  TimerId,
  TlsCertificate,
  TlsVerification,
} from "./interface.ts";

/** The runtime this process runs on, picked once at start: Deno when `Deno` is there, else Node. */
export const runtime: Runtime = "Deno" in globalThis ? denoRuntime : nodeRuntime;
