/**
 * The tables one client already resolved, by name and kind, shared by all
 * its proxies: `getCyberDict(name)` on a name resolved as a dict costs no
 * round trip. The server (or store) checks the table and its kind on every
 * op anyway, so a table deleted or retyped since fails on the handle's
 * first op with `NO_SUCH_TABLE` or `WRONG_TYPE`; that error, and this
 * client's own `deleteTable`, make the client forget the name, so the next
 * `getCyberDict` asks again.
 *
 * @module
 */

import type { TableKind } from "../protocol/messages.ts";

/** Names remembered at most; the oldest is forgotten first (a client touching endless names stays bounded). */
const MAX_KNOWN = 10_000;

/** Table names this client resolved, with their kind. */
export class KnownTables {
  #kinds = new Map<string, TableKind>();

  /** Whether `name` was resolved as a table of `kind`. */
  has(name: string, kind: TableKind): boolean {
    return this.#kinds.get(name) === kind;
  }

  /** Remembers that `name` is a table of `kind`. */
  add(name: string, kind: TableKind): void {
    this.#kinds.delete(name);
    if (this.#kinds.size >= MAX_KNOWN) this.#kinds.delete(this.#kinds.keys().next().value!);
    this.#kinds.set(name, kind);
  }

  /** Forgets `name`. */
  forget(name: string): void {
    this.#kinds.delete(name);
  }

  /**
   * Forgets the table of a request that failed because the table is gone or of another kind.
   *
   * @param name the request's table
   * @param error why it failed
   */
  failed(name: string, error: unknown): void {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "NO_SUCH_TABLE" || code === "WRONG_TYPE") this.#kinds.delete(name);
  }

  /** Whether any table is remembered under `name`. */
  knows(name: string): boolean {
    return this.#kinds.has(name);
  }
}
